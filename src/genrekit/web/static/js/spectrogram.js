// Mel spectrogram image from the server's visuals: uint8 pixels (n_mels, n_frames), lowest
// band first, coloured with magma and scaled to the canvas.

import { MAGMA } from "./colormap.js";
import { el } from "./dom.js";

/** Decode standard base64 into bytes. */
export function base64ToBytes(text) {
  const binary = atob(text || "");
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * RGBA pixels of a mel image with the lowest band at the bottom.
 * @param {Uint8Array} levels row-major (nMels, nFrames), lowest band first
 * @param {number} nMels
 * @param {number} nFrames
 * @param {Uint8ClampedArray} lut 256 RGB triples
 * @returns {Uint8ClampedArray} length nMels * nFrames * 4, row-major (height nMels, width nFrames), top row = highest band
 */
export function melToRgba(levels, nMels, nFrames, lut = MAGMA) {
  const rgba = new Uint8ClampedArray(nMels * nFrames * 4);
  for (let band = 0; band < nMels; band += 1) {
    const row = nMels - 1 - band;
    for (let t = 0; t < nFrames; t += 1) {
      const level = levels[band * nFrames + t];
      const o = (row * nFrames + t) * 4;
      rgba[o] = lut[level * 3];
      rgba[o + 1] = lut[level * 3 + 1];
      rgba[o + 2] = lut[level * 3 + 2];
      rgba[o + 3] = 255;
    }
  }
  return rgba;
}

/** Size a canvas to its CSS box in device pixels and clear it; null while it has no size. */
export function clearAtDeviceSize(canvas) {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return null;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  return context;
}

export class Spectrogram {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.image = null;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /**
   * Show a mel image (the `mel` object of GET /classifications/{id}/visuals), or clear with null.
   * @param {{n_mels: number, n_frames: number, data: string} | null} mel
   */
  setMel(mel) {
    this.image = null;
    if (mel && mel.n_mels > 0 && mel.n_frames > 0) {
      const levels = base64ToBytes(mel.data);
      if (levels.length === mel.n_mels * mel.n_frames) {
        const source = el("canvas", { width: mel.n_frames, height: mel.n_mels });
        const rgba = melToRgba(levels, mel.n_mels, mel.n_frames);
        source.getContext("2d").putImageData(new ImageData(rgba, mel.n_frames, mel.n_mels), 0, 0);
        this.image = source;
      }
    }
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const context = clearAtDeviceSize(canvas);
    if (!context || !this.image) return;
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(this.image, 0, 0, canvas.width, canvas.height);
  }
}

const AXIS_FREQUENCIES_HZ = [500, 1000, 2000, 4000, 8000, 16000]; // frequency labels (Hz), those under the top band edge
const DEFAULT_F_MAX_HZ = 11025; // top band edge of images stored without f_max_hz

/** Slaney mel of a frequency in Hz (linear below 1 kHz, logarithmic above), as the server's image uses. */
export function slaneyMel(hz) {
  const linearStep = 200 / 3; // Hz per mel below 1 kHz
  const logStep = Math.log(6.4) / 27;
  return hz < 1000 ? hz / linearStep : 15 + Math.log(hz / 1000) / logStep;
}

const TICK_SPACING_PX = 56; // least room per time label

/** Tick times (seconds) every round step, at most `maxTicks` + 1 of them from 0. */
export function timeTicks(durationS, maxTicks = 6) {
  if (!(durationS > 0)) return [];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200];
  const step = steps.find((s) => durationS / s <= maxTicks) || 1800;
  const ticks = [];
  for (let t = 0; t <= durationS + 1e-6; t += step) ticks.push(t);
  return ticks;
}

function label(text, property, fraction) {
  return el("span", { style: { [property]: `${(fraction * 100).toFixed(3)}%` } }, text);
}

/**
 * Frequency labels (Hz, placed on the mel scale) beside the spectrogram and time labels under it.
 * @param {HTMLElement} freqAxis
 * @param {HTMLElement} timeAxis
 * @param {{f_max_hz?: number}|null} mel the image (null clears the axes)
 * @param {number} durationS
 */
export function renderSpectrogramAxes(freqAxis, timeAxis, mel, durationS) {
  freqAxis.replaceChildren();
  timeAxis.replaceChildren();
  if (!mel) return;
  const fMax = mel.f_max_hz || DEFAULT_F_MAX_HZ;
  const top = slaneyMel(fMax);
  for (const hz of AXIS_FREQUENCIES_HZ.filter((f) => f <= fMax)) {
    freqAxis.append(label(hz >= 1000 ? `${hz / 1000}k` : String(hz), "bottom", slaneyMel(hz) / top));
  }
  const maxTicks = Math.max(2, Math.min(6, Math.floor((timeAxis.clientWidth || 600) / TICK_SPACING_PX)));
  for (const t of timeTicks(durationS, maxTicks)) {
    const minutes = Math.floor(t / 60);
    timeAxis.append(label(`${minutes}:${String(Math.round(t % 60)).padStart(2, "0")}`, "left", t / durationS));
  }
}
