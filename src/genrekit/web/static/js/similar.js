// "Similar tracks" panel of a result: the stored tracks whose embeddings are nearest, above
// the server's similarity floor (the API says what it is and what the percentage means). It
// asks again when the catalog changes (a new result stored), so new uploads show up.
import { getSimilar, trackHref, trackName } from "./discovery.js";
import { el } from "./dom.js";
import { formatPercent, genreColor, genreTitle } from "./format.js";

const K = 8;
const REFRESH_DELAY_MS = 400; // results of a batch arrive close together: ask once
let shownFor = null;
let refreshTimer = null;

function panel() {
  let section = document.querySelector("#similar-panel"); // created below on the first result
  if (section) return section;
  const host = document.getElementById("result-panels");
  if (!host) return null;
  section = el(
    "section",
    { id: "similar-panel", className: "similar-panel", "aria-labelledby": "similar-title" },
    el("h3", { id: "similar-title", className: "section-title" }, "Similar tracks"),
    el("p", { className: "similar-status", role: "status" }),
    el("ol", { className: "similar-list" }),
    el("p", { className: "similar-note" }),
  );
  host.append(section);
  return section;
}

function renderItem(hit) {
  return el(
    "li",
    { className: "similar-item" },
    el("span", { className: "similar-swatch", style: { background: genreColor(hit.top_genre) } }),
    el("a", { href: trackHref(hit.id), className: "similar-name" }, trackName(hit)),
    el("span", { className: "similar-meta" }, `${genreTitle(hit.top_genre)} · ${formatPercent(Math.max(0, hit.score))} similar`),
  );
}

async function show(result, { quiet = false } = {}) {
  const section = panel();
  if (!section || !result || !result.id) return;
  shownFor = result.id;
  const status = section.querySelector(".similar-status");
  const list = section.querySelector(".similar-list");
  const note = section.querySelector(".similar-note");
  if (!quiet) {
    list.replaceChildren();
    status.textContent = "Looking for similar tracks…";
  }
  try {
    const body = await getSimilar(result.id, { k: K });
    if (shownFor !== result.id) return;
    status.textContent = body.data.length
      ? ""
      : `No close match yet: no other track in the catalog is ${formatPercent(body.min_score)} similar or more.`;
    note.textContent = body.score_meaning || "";
    list.replaceChildren(...body.data.map(renderItem));
  } catch (error) {
    if (shownFor !== result.id) return;
    status.textContent = error.status === 404 ? "No similar tracks: this result has no stored embedding." : `Could not load similar tracks (${error.message}).`;
  }
}

document.addEventListener("genrekit:result", (event) => show(event.detail && event.detail.result));
document.addEventListener("genrekit:catalog-changed", (event) => {
  const id = shownFor;
  if (!id || (event.detail && event.detail.id === id)) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => show({ id }, { quiet: true }), REFRESH_DELAY_MS);
});
