// Pure formatting helpers: times, percentages, dates, genre colours.

/** "m:ss" (or "h:mm:ss") for a time in seconds, rounded to the nearest second. */
export function formatTime(seconds) {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** "0:03–0:06" for a span in seconds. */
export function formatSpan(startS, endS) {
  return `${formatTime(startS)}\u2013${formatTime(endS)}`;
}

/** A probability in [0, 1] as a whole percentage ("82%"), "<1%" for tiny non-zero values. */
export function formatPercent(score) {
  const value = Number(score) || 0;
  if (value > 0 && value < 0.005) return "<1%";
  return `${Math.round(value * 100)}%`;
}

/** A duration in seconds as "12 s", "3 min 05 s" or "1 h 02 min". */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  if (total < 60) return `${total} s`;
  if (total < 3600) return `${Math.floor(total / 60)} min ${String(total % 60).padStart(2, "0")} s`;
  return `${Math.floor(total / 3600)} h ${String(Math.floor((total % 3600) / 60)).padStart(2, "0")} min`;
}

/** A size in bytes as "512 bytes", "10.3 KiB" or "2.5 MiB" (1 MiB = 1,048,576 bytes, rounded up to 0.1), as the API words it. */
export function formatSize(bytes) {
  const value = Math.max(0, Math.round(Number(bytes) || 0));
  if (value < 1024) return `${value} bytes`;
  const [amount, unit] = value < 1048576 ? [value / 1024, "KiB"] : [value / 1048576, "MiB"];
  const tenths = Math.ceil(amount * 10 - 1e-9) / 10;
  return `${tenths.toFixed(1).replace(/\.0$/, "")} ${unit}`;
}

/** A short local date-time for an ISO timestamp ("today 14:03", "3 Mar 14:03", "3 Mar 2024"). */
export function formatWhen(iso, now = new Date()) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return "";
  const time = when.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (when.toDateString() === now.toDateString()) return `today ${time}`;
  const sameYear = when.getFullYear() === now.getFullYear();
  const day = when.toLocaleDateString(undefined, sameYear ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" });
  return sameYear ? `${day} ${time}` : day;
}

/** "hiphop" -> "Hip-hop", "rnb" -> "R&B"; other labels get a capital first letter. */
export function genreTitle(genre) {
  const special = { hiphop: "Hip-hop", rnb: "R&B", edm: "EDM", "hip-hop": "Hip-hop" };
  const key = String(genre).toLowerCase();
  if (special[key]) return special[key];
  const text = String(genre).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// Colours chosen to read on both light and dark backgrounds (distinct hues; labels on them are black or
// white, whichever contrasts more). Metal is a dark rust, not a grey that would look disabled.
const KNOWN_COLORS = {
  blues: "#3b82f6",
  classical: "#a78bfa",
  country: "#c2410c",
  disco: "#d946ef",
  hiphop: "#eab308",
  jazz: "#14b8a6",
  metal: "#7c2d12",
  pop: "#f472b6",
  reggae: "#22c55e",
  rock: "#ef4444",
  electronic: "#06b6d4",
  folk: "#a3a635",
  instrumental: "#8b5cf6",
  international: "#10b981",
  experimental: "#94a3b8",
};
const FALLBACK_COLORS = ["#0ea5e9", "#84cc16", "#e879f9", "#fb923c", "#2dd4bf", "#facc15", "#f43f5e", "#818cf8"];

/** A stable colour for a genre label (known GTZAN/FMA genres have fixed colours). */
export function genreColor(genre) {
  const key = String(genre).toLowerCase();
  if (KNOWN_COLORS[key]) return KNOWN_COLORS[key];
  let hash = 0;
  for (const ch of key) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return FALLBACK_COLORS[hash % FALLBACK_COLORS.length];
}
