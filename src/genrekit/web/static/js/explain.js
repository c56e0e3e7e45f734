// "Why?" on the result view: overlays the model's saliency for the predicted genre on the
// spectrogram and marks the windows that decided, from GET /classifications/{id}/explanation.
// The module mounts itself next to #mel-canvas and follows the #/r/{id} route, so the page
// only has to load it.

import { API, getJson, resultIdFromHash } from "./api.js";
import { el } from "./dom.js";
import { clearAtDeviceSize } from "./spectrogram.js";

const HTK_MEL_BREAK_HZ = 700; // mel(f) = 2595 log10(1 + f / 700)
const PAGE_SPECTROGRAM_F_MAX_HZ = 11025; // top of the page's spectrogram (service visuals)

/** Mel value of a frequency (HTK formula; close enough to place bands on the page's image). */
export function hzToMel(hz) {
  return 2595 * Math.log10(1 + hz / HTK_MEL_BREAK_HZ);
}

/**
 * Rectangles of the positive saliency of one window, in canvas pixels.
 * @param {number[][]} map rows = bins from the lowest band up, columns = time
 * @param {{x0: number, x1: number, height: number, topFraction: number}} box window span and
 *   the fraction of the canvas height that the model's bands cover (from the bottom)
 * @returns {{x: number, y: number, w: number, h: number, alpha: number}[]}
 */
export function saliencyCells(map, box) {
  const cells = [];
  const nBins = map.length;
  if (!nBins) return cells;
  const nCols = map[0].length;
  const colW = (box.x1 - box.x0) / nCols;
  const bandH = (box.height * box.topFraction) / nBins;
  for (let b = 0; b < nBins; b += 1) {
    for (let c = 0; c < nCols; c += 1) {
      const value = map[b][c];
      if (!(value > 0)) continue;
      cells.push({ x: box.x0 + c * colW, y: box.height - (b + 1) * bandH, w: colW, h: bandH, alpha: Math.min(1, value) });
    }
  }
  return cells;
}

/** One line telling what the overlay shows and how the faithfulness check went. */
export function whyCaption(explanation) {
  const f = explanation.faithfulness || {};
  const decisive = (explanation.windows || []).filter((w) => w.decisive).length;
  const check =
    typeof f.deletion_drop === "number"
      ? ` Masking the most salient ${Math.round((f.fraction || 0.1) * 100)}% lowers p(${explanation.predicted}) by ` +
        `${f.deletion_drop.toFixed(2)}, a random ${Math.round((f.fraction || 0.1) * 100)}% by ${f.random_drop.toFixed(2)}` +
        (f.passed ? "." : " (the map is not faithful here).")
      : "";
  return `Orange: where the model heard ${explanation.predicted} (occlusion). Outlined: the ${decisive} window(s) that decided.${check}`;
}

class WhyOverlay {
  constructor(melCanvas) {
    this.melCanvas = melCanvas;
    this.id = null;
    this.on = false;
    this.explanations = new Map();
    const frame = melCanvas.parentElement;
    this.canvas = el("canvas", { id: "why-canvas", className: "why-overlay", "aria-hidden": "true", hidden: true });
    frame.appendChild(this.canvas);
    this.button = el(
      "button",
      { id: "why-toggle", type: "button", className: "button button-small", "aria-pressed": "false", title: "Show what the model listened to" },
      "Why?",
    );
    this.status = el("p", { id: "why-status", className: "why-status", "aria-live": "polite" });
    this.bar = el("div", { className: "why-bar" }, this.button, this.status);
    (melCanvas.closest("figure") || frame).insertAdjacentElement("afterend", this.bar);
    this.button.addEventListener("click", () => this.toggle());
    new ResizeObserver(() => this.draw()).observe(frame);
    window.addEventListener("hashchange", () => this.follow());
    this.follow();
  }

  follow() {
    const id = resultIdFromHash(window.location.hash);
    if (id === this.id) return;
    this.id = id;
    this.setOn(false);
    this.status.textContent = "";
  }

  setOn(on) {
    this.on = on;
    this.button.setAttribute("aria-pressed", String(on));
    this.button.textContent = on ? "Hide why" : "Why?";
    this.canvas.hidden = !on;
    this.draw();
  }

  async toggle() {
    if (this.on) {
      this.setOn(false);
      return;
    }
    const id = this.id;
    if (!id) return;
    this.button.disabled = true;
    this.status.textContent = this.explanations.has(id) ? "" : "Working out why (this takes a few seconds)…";
    try {
      if (!this.explanations.has(id)) this.explanations.set(id, await fetchExplanation(id));
      if (id !== this.id) return;
      this.status.textContent = whyCaption(this.explanations.get(id));
      this.setOn(true);
    } catch (error) {
      if (id === this.id) this.status.textContent = `No explanation: ${error.detail || error.message}`;
    } finally {
      this.button.disabled = false;
    }
  }

  draw() {
    const { canvas } = this;
    const context = clearAtDeviceSize(canvas);
    if (!context) return;
    const ratio = window.devicePixelRatio || 1;
    const explanation = this.on ? this.explanations.get(this.id) : null;
    if (!explanation || !explanation.duration_s) return;
    const W = canvas.width;
    const H = canvas.height;
    const saliency = explanation.saliency;
    const maps = saliency ? saliency.methods.occlusion : [];
    const topFraction = saliency
      ? Math.min(1, hzToMel(saliency.f_max_hz) / hzToMel(PAGE_SPECTROGRAM_F_MAX_HZ))
      : 1;
    explanation.windows.forEach((w, i) => {
      const x0 = (w.start_s / explanation.duration_s) * W;
      const x1 = (w.end_s / explanation.duration_s) * W;
      for (const cell of saliencyCells(maps[i] || [], { x0, x1, height: H, topFraction })) {
        context.fillStyle = `rgba(255, 140, 0, ${(0.85 * cell.alpha).toFixed(3)})`;
        context.fillRect(cell.x, cell.y, Math.ceil(cell.w), Math.ceil(cell.h));
      }
      const line = Math.max(2, Math.round(2 * ratio));
      const left = Math.round(x0);
      context.lineWidth = line;
      context.strokeStyle = w.decisive ? "rgba(255, 255, 255, 0.95)" : "rgba(255, 255, 255, 0.25)";
      context.setLineDash(w.decisive ? [] : [4 * ratio, 4 * ratio]);
      context.strokeRect(left + line / 2, line / 2, Math.max(1, Math.round(x1) - left - line), H - line);
    });
  }
}

/** GET the explanation of a stored classification (computed on the first request). */
function fetchExplanation(id) {
  return getJson(`${API}/classifications/${encodeURIComponent(id)}/explanation`);
}

const melCanvas = document.getElementById("mel-canvas");
if (melCanvas && melCanvas.parentElement) window.genrekitWhy = new WhyOverlay(melCanvas);
