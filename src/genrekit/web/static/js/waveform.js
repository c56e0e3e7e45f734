// Waveform overview: peaks from decoded audio (WebAudio) or from the server, drawn on a
// canvas with the played part highlighted; pointer and keyboard seeking.

import { formatTime } from "./format.js";

const BAR_PX = 2; // bar width (CSS pixels)
const GAP_PX = 1; // space between bars (CSS pixels)
const MAX_DECODE_BYTES = 150 * 1024 * 1024; // larger files are drawn from the server's peaks

/**
 * Max absolute amplitude per time bucket over all channels.
 * @param {Float32Array[]} channels samples in [-1, 1], equal lengths
 * @param {number} nBuckets number of buckets
 * @returns {Float32Array} length min(nBuckets, n_samples), values in [0, 1]
 */
export function peaksFromChannels(channels, nBuckets) {
  const n = channels.length ? channels[0].length : 0;
  const count = Math.max(0, Math.min(nBuckets, n));
  const peaks = new Float32Array(count);
  for (let b = 0; b < count; b += 1) {
    const start = Math.floor((b * n) / count);
    const end = Math.max(start + 1, Math.floor(((b + 1) * n) / count));
    let peak = 0;
    for (const data of channels) {
      for (let i = start; i < end; i += 1) {
        const v = data[i] < 0 ? -data[i] : data[i];
        if (v > peak) peak = v;
      }
    }
    peaks[b] = Math.min(1, peak);
  }
  return peaks;
}

/**
 * Resample peaks to `nBars` values by taking the max over each bar's share.
 * @param {ArrayLike<number>} peaks
 * @param {number} nBars
 * @returns {Float32Array}
 */
export function resamplePeaks(peaks, nBars) {
  const n = peaks.length;
  const out = new Float32Array(Math.max(0, nBars));
  if (!n) return out;
  for (let b = 0; b < nBars; b += 1) {
    const start = Math.floor((b * n) / nBars);
    const end = Math.max(start + 1, Math.floor(((b + 1) * n) / nBars));
    let peak = 0;
    for (let i = start; i < end && i < n; i += 1) if (peaks[i] > peak) peak = peaks[i];
    out[b] = peak;
  }
  return out;
}

/**
 * Decode a local file with WebAudio and compute its peaks; null when the browser cannot.
 * @param {File} file
 * @param {number} nBuckets
 * @returns {Promise<{peaks: Float32Array, durationS: number} | null>}
 */
export async function decodePeaks(file, nBuckets = 2400) {
  const Offline = window.OfflineAudioContext || window.webkitOfflineAudioContext;
  if (!Offline || !file || file.size > MAX_DECODE_BYTES) return null;
  try {
    const bytes = await file.arrayBuffer();
    const context = new Offline(1, 1, 44100);
    const buffer = await context.decodeAudioData(bytes);
    const channels = [];
    for (let c = 0; c < buffer.numberOfChannels; c += 1) channels.push(buffer.getChannelData(c));
    return { peaks: peaksFromChannels(channels, nBuckets), durationS: buffer.duration };
  } catch {
    return null;
  }
}

function cssColor(element, name, fallback) {
  const value = getComputedStyle(element).getPropertyValue(name).trim();
  return value || fallback;
}

export class Waveform {
  /**
   * @param {HTMLElement} container the focusable slider element holding the canvas
   * @param {HTMLCanvasElement} canvas
   * @param {{onSeek: (seconds: number) => void}} options
   */
  constructor(container, canvas, { onSeek }) {
    this.container = container;
    this.canvas = canvas;
    this.onSeek = onSeek;
    this.peaks = new Float32Array(0);
    this.durationS = 0;
    this.positionS = 0;
    this.dragging = false;
    new ResizeObserver(() => this.draw()).observe(container);
    container.addEventListener("pointerdown", (event) => this.pointer(event, true));
    container.addEventListener("pointermove", (event) => this.dragging && this.pointer(event, false));
    const stop = (event) => {
      if (!this.dragging) return;
      this.dragging = false;
      if (container.hasPointerCapture(event.pointerId)) container.releasePointerCapture(event.pointerId);
    };
    container.addEventListener("pointerup", stop);
    container.addEventListener("pointercancel", stop);
    container.addEventListener("keydown", (event) => this.key(event));
  }

  /** Show new peaks (values 0..1 in time order) for a clip of `durationS` seconds. */
  setPeaks(peaks, durationS) {
    this.peaks = peaks instanceof Float32Array ? peaks : Float32Array.from(peaks || []);
    this.durationS = Math.max(0, durationS || 0);
    this.container.setAttribute("aria-valuemax", String(Math.round(this.durationS)));
    this.setPosition(0);
  }

  /** Move the played/unplayed boundary to `seconds`. */
  setPosition(seconds) {
    this.positionS = Math.min(Math.max(0, seconds || 0), this.durationS);
    this.container.setAttribute("aria-valuenow", String(Math.round(this.positionS)));
    this.container.setAttribute("aria-valuetext", `${formatTime(this.positionS)} of ${formatTime(this.durationS)}`);
    this.draw();
  }

  pointer(event, starting) {
    if (!this.durationS || (event.pointerType === "mouse" && event.button !== 0 && starting)) return;
    if (starting) {
      this.dragging = true;
      this.container.setPointerCapture(event.pointerId);
    }
    const rect = this.container.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - rect.left) / Math.max(1, rect.width)));
    this.onSeek(fraction * this.durationS);
  }

  key(event) {
    if (!this.durationS) return;
    const step = event.shiftKey ? 1 : 5;
    const moves = {
      ArrowLeft: this.positionS - step,
      ArrowDown: this.positionS - step,
      ArrowRight: this.positionS + step,
      ArrowUp: this.positionS + step,
      PageDown: this.positionS - this.durationS / 10,
      PageUp: this.positionS + this.durationS / 10,
      Home: 0,
      End: this.durationS,
    };
    if (!(event.key in moves)) return;
    event.preventDefault();
    this.onSeek(Math.min(this.durationS, Math.max(0, moves[event.key])));
  }

  draw() {
    const { canvas } = this;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    const ratio = window.devicePixelRatio || 1;
    const pixelWidth = Math.round(width * ratio);
    const pixelHeight = Math.round(height * ratio);
    if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
      canvas.width = pixelWidth;
      canvas.height = pixelHeight;
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const played = cssColor(this.container, "--wave-played", "#7c3aed");
    const unplayed = cssColor(this.container, "--wave", "#a1a1aa");
    const middle = height / 2;
    const nBars = Math.max(1, Math.floor((width + GAP_PX) / (BAR_PX + GAP_PX)));
    const bars = resamplePeaks(this.peaks, nBars);
    let loudest = 0;
    for (const v of bars) if (v > loudest) loudest = v;
    const scale = (middle - 1) / Math.max(loudest, 0.1);
    const boundary = this.durationS ? (this.positionS / this.durationS) * width : 0;
    for (let b = 0; b < bars.length; b += 1) {
      const x = b * (BAR_PX + GAP_PX);
      const half = Math.max(0.75, bars[b] * scale);
      context.fillStyle = x + BAR_PX / 2 <= boundary ? played : unplayed;
      context.fillRect(x, middle - half, BAR_PX, 2 * half);
    }
    if (this.durationS) {
      context.fillStyle = cssColor(this.container, "--playhead", "#111827");
      context.fillRect(Math.min(width - 2, Math.max(0, boundary - 1)), 0, 2, height);
    }
  }
}
