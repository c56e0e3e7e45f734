// Client of the discovery endpoints: similar tracks, catalog search, stats and map.
import { API, getJson, resultHref } from "./api.js";

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The k stored tracks most like a classification (optionally of one top genre). */
export function getSimilar(id, { k = 8, genre = "" } = {}) {
  return getJson(`${API}/classifications/${encodeURIComponent(id)}/similar${query({ k, genre })}`);
}

/** One page of catalog search results ({data, next_cursor}). */
export function searchCatalog({ genre = "", tag = "", minScore = 0, q = "", limit = 25, cursor = null } = {}) {
  return getJson(`${API}/search${query({ genre, tag, min_score: minScore || "", q, limit, cursor })}`);
}

/** Catalog size, genre counts and embedding spaces. */
export function getCatalogStats() {
  return getJson(`${API}/catalog/stats`);
}

/** The catalog's 2-D map (PCA of the track embeddings). */
export function getCatalogMap({ limit = 5000 } = {}) {
  return getJson(`${API}/catalog/map${query({ limit })}`);
}

/** Link that opens a stored classification on the main page. */
export function trackHref(id) {
  return resultHref(id);
}

/** Display name of a track: its file name or URL, else its id. */
export function trackName(item) {
  return item.name || item.filename || item.id;
}
