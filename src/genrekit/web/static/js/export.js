// Export of the history (as filtered on the page) to CSV or JSON, built in the browser.

import { listClassifications } from "./api.js";
import { el } from "./dom.js";

const EXPORT_PAGE = 100; // entries per request while exporting
const MAX_EXPORT = 5000; // most entries exported at once

/** Every history entry matching the filters, newest first (at most MAX_EXPORT). */
export async function fetchAll(filters) {
  const items = [];
  let cursor = null;
  do {
    const page = await listClassifications({ ...filters, limit: EXPORT_PAGE, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < MAX_EXPORT);
  return items.slice(0, MAX_EXPORT);
}

/** One CSV cell: quoted when needed, and a leading = + - @ neutralised so spreadsheets show it as text. */
export function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const CSV_COLUMNS = ["id", "name", "created_at", "duration_s", "top_genre", "top_score", "second_genre", "second_score", "uncertainty", "complete", "permalink"];

/** History entries as CSV text (one row each, header first). */
export function toCsv(items, permalinkOf) {
  const rows = items.map((item) => {
    const second = (item.genres || [])[1] || {};
    return [
      item.id,
      item.filename,
      item.created_at,
      item.duration_s,
      item.top_genre,
      item.top_score,
      second.genre,
      second.score,
      item.uncertainty ? item.uncertainty.level : "",
      item.complete !== false,
      permalinkOf(item.id),
    ];
  });
  return [CSV_COLUMNS, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** Let the browser save `text` as a file named `name`. */
export function download(text, name, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Fetch the filtered history and save it as "genrekit-history-<date>.csv" or ".json"; returns the count. */
export async function exportHistory(format, filters, permalinkOf) {
  const items = await fetchAll(filters);
  const stamp = new Date().toISOString().slice(0, 10);
  if (format === "csv") download(toCsv(items, permalinkOf), `genrekit-history-${stamp}.csv`, "text/csv");
  else download(JSON.stringify(items, null, 2), `genrekit-history-${stamp}.json`, "application/json");
  return items.length;
}
