// History list: GET /classifications newest first, genre filter, search by name, delete,
// "load more" by cursor.

import { deleteClassification, listClassifications, resultHash } from "./api.js";
import { el } from "./dom.js";
import { formatDuration, formatPercent, formatWhen, genreColor, genreTitle } from "./format.js";

const PAGE_SIZE = 12; // entries per page
const SEARCH_DELAY_MS = 250; // typing pause before the search runs

/** The history-summary view of a full result (what the list endpoint returns per entry). */
export function summaryOf(result) {
  const top = (result.genres || [])[0] || { genre: "", score: 0 };
  return {
    id: result.id,
    created_at: result.created_at,
    filename: result.filename || result.name,
    duration_s: result.duration_s,
    top_genre: result.top_genre || top.genre,
    top_score: result.top_score ?? top.score,
    warnings: result.warnings || [],
    complete: result.complete !== false,
  };
}

export class History {
  /**
   * @param {{list: HTMLOListElement, empty: HTMLElement, more: HTMLButtonElement, filter: HTMLSelectElement, search: HTMLInputElement}} nodes
   * @param {{onError: (error: Error) => void, onDeleted: (id: string) => void}} callbacks
   */
  constructor(nodes, { onError, onDeleted = () => {} }) {
    this.nodes = nodes;
    this.onError = onError;
    this.onDeleted = onDeleted;
    this.searchTimer = 0;
    this.cursor = null;
    this.currentId = null;
    this.ids = new Set();
    this.loading = false;
    nodes.more.addEventListener("click", () => this.load(false));
    nodes.filter.addEventListener("change", () => this.load(true));
    nodes.search.addEventListener("input", () => {
      window.clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => this.load(true), SEARCH_DELAY_MS);
    });
  }

  /** The current filters, as `listClassifications` takes them. */
  get filters() {
    return { genre: this.nodes.filter.value, query: this.nodes.search.value.trim() };
  }

  /** Offer one filter option per model label. */
  setGenres(labels) {
    const { filter } = this.nodes;
    const selected = filter.value;
    filter.replaceChildren(new Option("All genres", ""));
    for (const label of [...labels].sort()) filter.append(new Option(genreTitle(label), label));
    filter.value = labels.includes(selected) ? selected : "";
  }

  /** Load the first page (`reset`) or the next one. */
  async load(reset = true) {
    if (this.loading) return;
    this.loading = true;
    const { list, more } = this.nodes;
    more.disabled = true;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await listClassifications({ ...this.filters, limit: PAGE_SIZE, cursor: reset ? null : this.cursor });
      if (reset) {
        list.replaceChildren();
        this.ids.clear();
      }
      for (const item of page.items) this.append(item, false);
      this.cursor = page.nextCursor;
      more.hidden = !this.cursor;
    } catch (error) {
      this.onError(error);
    } finally {
      this.loading = false;
      more.disabled = false;
      list.removeAttribute("aria-busy");
      this.nodes.empty.hidden = list.children.length > 0;
    }
  }

  /** Put a fresh result at the top (unless filtered out or already listed). */
  prepend(result) {
    const summary = summaryOf(result);
    const { genre, query } = this.filters;
    if (genre && genre !== summary.top_genre) return;
    if (query && !String(summary.filename || "").toLowerCase().includes(query.toLowerCase())) return;
    const existing = this.nodes.list.querySelector(`[data-id="${CSS.escape(summary.id)}"]`);
    if (existing) existing.remove();
    this.ids.delete(summary.id);
    this.append(summary, true);
    this.nodes.empty.hidden = true;
  }

  /** Mark the entry being shown. */
  markCurrent(id) {
    this.currentId = id;
    for (const link of this.nodes.list.querySelectorAll("a.history-link")) {
      if (link.dataset.id === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /**
   * Delete every entry matching the filters (after one confirmation), with their audio.
   * @param {(filters: object) => Promise<object[]>} fetchAll lists the matching entries
   * @returns {Promise<number>} how many were deleted
   */
  async clear(fetchAll) {
    const { genre, query } = this.filters;
    const what = genre || query ? "every result shown by this filter" : "the whole history";
    if (!window.confirm(`Delete ${what} and the kept audio? This cannot be undone.`)) return 0;
    let deleted = 0;
    try {
      for (const item of await fetchAll(this.filters)) {
        await deleteClassification(item.id);
        deleted += 1;
        this.onDeleted(item.id);
      }
    } catch (error) {
      this.onError(error);
    }
    await this.load(true);
    return deleted;
  }

  /** Delete an entry on the server (after a confirmation), then from the list. */
  async remove(item, row) {
    if (!window.confirm(`Delete “${item.filename || item.id}” and its audio? This cannot be undone.`)) return;
    try {
      await deleteClassification(item.id);
    } catch (error) {
      this.onError(error);
      return;
    }
    row.remove();
    this.ids.delete(item.id);
    this.nodes.empty.hidden = this.nodes.list.children.length > 0;
    this.onDeleted(item.id);
  }

  append(item, atTop) {
    if (this.ids.has(item.id)) return;
    this.ids.add(item.id);
    const shownName = item.filename || item.id;
    const warned = item.warnings && item.warnings.length ? el("span", { className: "history-warned" }, " · with warnings") : null;
    const link = el(
      "a",
      { className: "history-link", href: resultHash(item.id), "data-id": item.id, "aria-current": item.id === this.currentId ? "page" : null, title: shownName },
      el("span", { className: "history-dot", style: { "--genre-color": genreColor(item.top_genre) }, "aria-hidden": "true" }),
      el("span", { className: "history-name", title: shownName }, shownName),
      el("span", { className: "history-genre" }, `${genreTitle(item.top_genre)} ${formatPercent(item.top_score)}`),
      el("span", { className: "history-meta" }, `${formatWhen(item.created_at)} · ${formatDuration(item.duration_s)}`, warned),
    );
    const remove = el(
      "button",
      { type: "button", className: "icon-button history-delete", "aria-label": `Delete ${shownName} and its audio`, title: "Delete this result and its audio" },
      "\u00d7",
    );
    const row = el("li", { "data-id": item.id, className: "history-item" }, link, remove);
    remove.addEventListener("click", () => this.remove(item, row));
    if (atTop) this.nodes.list.prepend(row);
    else this.nodes.list.append(row);
  }
}
