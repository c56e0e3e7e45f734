// Magma colour map (matplotlib), as a 256-entry RGB lookup table.

// matplotlib's magma sampled at 17 evenly spaced points (0, 1/16, ..., 1).
const MAGMA_STOPS = [
  "000004", "0a0822", "1d1147", "36106b", "51127c", "6a1c81", "832681", "9c2e7f", "b73779",
  "d0416f", "e75263", "f56b5c", "fc8961", "fea772", "fec488", "fde2a3", "fcfdbf",
];

function hexToRgb(hex) {
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/**
 * A lookup table of 256 RGB triples, linearly interpolated between the stops.
 * @param {string[]} stops hex colours without '#', evenly spaced over [0, 1]
 * @returns {Uint8ClampedArray} length 768: r, g, b of level 0, then level 1, ...
 */
export function buildLut(stops = MAGMA_STOPS) {
  const rgb = stops.map(hexToRgb);
  const lut = new Uint8ClampedArray(256 * 3);
  const n = rgb.length - 1;
  for (let level = 0; level < 256; level += 1) {
    const x = (level / 255) * n;
    const i = Math.min(n - 1, Math.floor(x));
    const t = x - i;
    for (let c = 0; c < 3; c += 1) {
      lut[level * 3 + c] = Math.round(rgb[i][c] + (rgb[i + 1][c] - rgb[i][c]) * t);
    }
  }
  return lut;
}

export const MAGMA = buildLut(MAGMA_STOPS);
