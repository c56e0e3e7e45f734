// Catalog page: genre distribution, searchable table, and the 2-D map of the embeddings.
import { getCatalogMap, getCatalogStats, searchCatalog, trackHref, trackName } from "./discovery.js";
import { el } from "./dom.js";
import { formatPercent, genreColor, genreTitle } from "./format.js";

const SVG = "http://www.w3.org/2000/svg";
const nodes = {
  summary: document.getElementById("catalog-summary"),
  chart: document.getElementById("genre-chart"),
  map: document.getElementById("catalog-map"),
  mapNote: document.getElementById("map-note"),
  hover: document.getElementById("map-hover"),
  form: document.getElementById("catalog-filter"),
  genre: document.getElementById("filter-genre"),
  rows: document.getElementById("catalog-rows"),
  more: document.getElementById("catalog-more"),
};
let nextCursor = null;

function svg(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function renderChart(genres) {
  const entries = Object.entries(genres).sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const rowH = 26;
  const labelW = 90;
  const width = 360;
  nodes.chart.setAttribute("viewBox", `0 0 ${width} ${Math.max(rowH, entries.length * rowH)}`);
  nodes.chart.replaceChildren();
  entries.forEach(([genre, n], i) => {
    const y = i * rowH;
    const barW = ((width - labelW - 40) * n) / max;
    const group = svg("g", { class: "chart-row", "data-genre": genre });
    const label = svg("text", { x: labelW - 6, y: y + rowH / 2 + 4, "text-anchor": "end", class: "chart-label" });
    label.textContent = genreTitle(genre);
    const bar = svg("rect", { x: labelW, y: y + 4, width: Math.max(barW, 1), height: rowH - 8, rx: 3, fill: genreColor(genre) });
    const count = svg("text", { x: labelW + barW + 6, y: y + rowH / 2 + 4, class: "chart-count" });
    count.textContent = String(n);
    group.append(label, bar, count);
    nodes.chart.append(group);
  });
}

function renderMap(body) {
  nodes.map.replaceChildren();
  if (!body.points.length) {
    nodes.mapNote.textContent = "No track embeddings stored yet: classify some music first.";
    return;
  }
  const [ex, ey] = body.explained_variance;
  nodes.mapNote.textContent = `${body.points.length} tracks (${body.space}); the axes explain ${formatPercent(ex)} and ${formatPercent(ey)} of the variance. Click a point to open the track.`;
  for (const point of body.points) {
    const dot = svg("circle", { cx: point.x, cy: -point.y, r: 0.025, fill: genreColor(point.genre), class: "map-point", tabindex: 0, "data-id": point.id });
    const title = svg("title", {});
    title.textContent = `${trackName(point)} · ${genreTitle(point.genre)} ${formatPercent(point.score)}`;
    dot.append(title);
    const describe = () => { nodes.hover.textContent = title.textContent; };
    dot.addEventListener("mouseenter", describe);
    dot.addEventListener("focus", describe);
    dot.addEventListener("click", () => { window.location.href = trackHref(point.id); });
    dot.addEventListener("keydown", (event) => { if (event.key === "Enter") window.location.href = trackHref(point.id); });
    nodes.map.append(dot);
  }
}

function renderRow(hit) {
  return el(
    "tr",
    {},
    el("td", {}, el("a", { href: trackHref(hit.id) }, trackName(hit))),
    el("td", {}, genreTitle(hit.top_genre)),
    el("td", {}, formatPercent(hit.top_score)),
    el("td", {}, (hit.tags || []).slice(0, 4).map((t) => t.tag).join(", ")),
  );
}

function filters() {
  const data = new FormData(nodes.form);
  return { q: data.get("q"), genre: data.get("genre"), tag: data.get("tag"), minScore: Number(data.get("min_score")) || 0 };
}

async function loadPage(reset) {
  if (reset) { nodes.rows.replaceChildren(); nextCursor = null; }
  try {
    const page = await searchCatalog({ ...filters(), cursor: nextCursor });
    nodes.rows.append(...page.data.map(renderRow));
    nextCursor = page.next_cursor;
    nodes.more.hidden = !nextCursor;
    if (reset && !page.data.length) nodes.summary.textContent = "No track matches these filters.";
  } catch (error) {
    nodes.summary.textContent = `Search failed: ${error.message}`;
  }
}

async function start() {
  try {
    const stats = await getCatalogStats();
    nodes.summary.textContent = `${stats.total} tracks in the catalog.`;
    renderChart(stats.genres);
    for (const genre of Object.keys(stats.genres).sort()) nodes.genre.append(el("option", { value: genre }, genreTitle(genre)));
    renderMap(await getCatalogMap());
  } catch (error) {
    nodes.summary.textContent = `Could not load the catalog: ${error.message}`;
  }
  await loadPage(true);
}

nodes.form.addEventListener("submit", (event) => { event.preventDefault(); loadPage(true); });
nodes.more.addEventListener("click", () => loadPage(false));
start();
