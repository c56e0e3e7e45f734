// Mel spectrogram image from the server's visuals: uint8 pixels (n_mels, n_frames), lowest
// band first, coloured with magma and scaled to the canvas.

import { MAGMA } from "./colormap.js";

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
        const source = document.createElement("canvas");
        source.width = mel.n_frames;
        source.height = mel.n_mels;
        const rgba = melToRgba(levels, mel.n_mels, mel.n_frames);
        source.getContext("2d").putImageData(new ImageData(rgba, mel.n_frames, mel.n_mels), 0, 0);
        this.image = source;
      }
    }
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    context.clearRect(0, 0, canvas.width, canvas.height);
    if (!this.image) return;
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(this.image, 0, 0, canvas.width, canvas.height);
  }
}
