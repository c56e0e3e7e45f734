// "Similar tracks" panel of a result: the stored tracks whose embeddings are nearest.
import { getSimilar, trackHref, trackName } from "./discovery.js";
import { formatPercent, genreColor, genreTitle } from "./format.js";

const K = 8;
let shownFor = null;

function panel() {
  let section = document.querySelector("#similar-panel"); // created below on the first result
  if (section) return section;
  const host = document.getElementById("result-panels");
  if (!host) return null;
  section = document.createElement("section");
  section.id = "similar-panel";
  section.className = "similar-panel";
  section.setAttribute("aria-labelledby", "similar-title");
  const title = document.createElement("h3");
  title.id = "similar-title";
  title.className = "section-title";
  title.textContent = "Similar tracks";
  const status = document.createElement("p");
  status.className = "similar-status";
  status.setAttribute("role", "status");
  const list = document.createElement("ol");
  list.className = "similar-list";
  section.append(title, status, list);
  host.append(section);
  return section;
}

function renderItem(hit) {
  const item = document.createElement("li");
  item.className = "similar-item";
  const swatch = document.createElement("span");
  swatch.className = "similar-swatch";
  swatch.style.background = genreColor(hit.top_genre);
  const link = document.createElement("a");
  link.href = trackHref(hit.id);
  link.className = "similar-name";
  link.textContent = trackName(hit);
  const meta = document.createElement("span");
  meta.className = "similar-meta";
  meta.textContent = `${genreTitle(hit.top_genre)} · similarity ${formatPercent(Math.max(0, hit.score))}`;
  item.append(swatch, link, meta);
  return item;
}

async function show(result) {
  const section = panel();
  if (!section || !result || !result.id) return;
  shownFor = result.id;
  const status = section.querySelector(".similar-status");
  const list = section.querySelector(".similar-list");
  list.replaceChildren();
  status.textContent = "Looking for similar tracks…";
  try {
    const body = await getSimilar(result.id, { k: K });
    if (shownFor !== result.id) return;
    status.textContent = body.data.length ? "" : "No other track in the catalog yet.";
    list.replaceChildren(...body.data.map(renderItem));
  } catch (error) {
    if (shownFor !== result.id) return;
    status.textContent = error.status === 404 ? "No similar tracks: this result has no stored embedding." : `Could not load similar tracks (${error.message}).`;
  }
}

document.addEventListener("genrekit:result", (event) => show(event.detail && event.detail.result));
