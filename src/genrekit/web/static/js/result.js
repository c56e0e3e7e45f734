// Rendering of one classification: winner, genre bars, segment timeline, tags, warnings.
// Builds DOM from data with textContent only (names come from users and links).

import { formatDuration, formatPercent, formatSpan, formatWhen, genreColor, genreTitle } from "./format.js";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const MIN_SEGMENT_FRACTION = 0.03; // narrowest segment drawn, as a fraction of the timeline

/**
 * Display spans of the segments: each starts at its own start and ends where the next one
 * starts (overlapping windows are shown side by side), clamped to the clip. A segment
 * narrower than `minFraction` (a few seconds sampled from a long song) is widened around its
 * centre to that width, without covering its neighbours, so it stays visible and clickable.
 * @param {{start_s: number, end_s: number}[]} segments in time order
 * @param {number} totalS clip duration (seconds)
 * @param {number} [minFraction] narrowest span drawn, as a fraction of the clip
 * @returns {{left: number, right: number}[]} fractions of the clip, 0..1
 */
export function segmentSpans(segments, totalS, minFraction = 0) {
  const total = totalS > 0 ? totalS : Math.max(1e-9, ...segments.map((s) => s.end_s));
  const spans = segments.map((segment, i) => {
    const next = segments[i + 1];
    let end = Math.min(segment.end_s, total);
    if (next && next.start_s < end) end = next.start_s;
    const left = Math.min(1, Math.max(0, segment.start_s / total));
    const right = Math.min(1, Math.max(left, end / total));
    return { left, right };
  });
  return spans.map(({ left, right }, i) => {
    if (right - left >= minFraction) return { left, right };
    const floor = i > 0 ? spans[i - 1].right : 0;
    const ceiling = i + 1 < spans.length ? spans[i + 1].left : 1;
    const half = (minFraction - (right - left)) / 2;
    return { left: Math.max(floor, left - half), right: Math.min(ceiling, right + half) };
  });
}

/**
 * A note for a timeline that leaves most of the song out (the classifier read a few
 * windows spread over it), or "" when the segments cover the song.
 * @param {{start_s: number, end_s: number}[]} segments in time order
 * @param {number} totalS clip duration (seconds)
 */
export function timelineNote(segments, totalS) {
  if (!segments.length || !(totalS > 0)) return "";
  const covered = segments.reduce((sum, s) => sum + Math.max(0, Math.min(s.end_s, totalS) - s.start_s), 0);
  if (covered >= 0.9 * totalS) return "";
  const seconds = Math.round(segments[0].end_s - segments[0].start_s);
  return `Genre read from ${segments.length} windows of ${seconds} s spread over the song ` +
    "(genrekit classify --full, or a server run with --max-windows 0, analyses every window).";
}

/** The segment playing at `seconds` (index), or -1. */
export function segmentAt(segments, seconds) {
  let found = -1;
  for (let i = 0; i < segments.length; i += 1) {
    if (segments[i].start_s <= seconds + 1e-6) found = i;
    else break;
  }
  if (found >= 0 && seconds > segments[found].end_s + 1e-6) return -1;
  return found;
}

/** Winner headline, runner-up and file facts. */
export function renderSummary(result, nodes) {
  const [top, second] = result.genres || [];
  nodes.genre.textContent = top ? genreTitle(top.genre) : "No result";
  nodes.genre.style.setProperty("--genre-color", top ? genreColor(top.genre) : "currentColor");
  nodes.confidence.textContent = top ? `${formatPercent(top.score)} confidence` : "";
  nodes.runnerUp.textContent = second ? `· then ${genreTitle(second.genre)} ${formatPercent(second.score)}` : "";
  nodes.name.textContent = result.filename || result.name || "Untitled";
  nodes.name.title = result.filename || result.name || "";
  const facts = [formatDuration(result.duration_s)];
  if (result.model) facts.push(`${result.model.name} ${result.model.version}`);
  if (result.created_at) facts.push(formatWhen(result.created_at));
  if (result.cached) facts.push("classified before");
  nodes.facts.textContent = facts.join(" · ");
}

/** One bar per genre, highest first; the winner is emphasised. */
export function renderGenreBars(list, genres) {
  list.replaceChildren();
  (genres || []).forEach((item, i) => {
    const row = element("li", i === 0 ? "genre-bar is-top" : "genre-bar");
    row.style.setProperty("--genre-color", genreColor(item.genre));
    const name = element("span", "genre-bar-name", genreTitle(item.genre));
    const track = element("span", "genre-bar-track");
    track.setAttribute("aria-hidden", "true");
    const fill = element("span", "genre-bar-fill");
    fill.style.width = `${Math.max(0, Math.min(100, item.score * 100)).toFixed(2)}%`;
    track.append(fill);
    const value = element("span", "genre-bar-value", formatPercent(item.score));
    row.dataset.genre = item.genre;
    row.append(name, track, value);
    list.append(row);
  });
}

/**
 * The segment timeline: one button per segment, consecutive same-genre segments drawn as
 * one block (each keeps its own clickable span), a label per block.
 * @returns {HTMLButtonElement[]} the buttons, in segment order
 */
export function renderTimeline(container, segments, totalS, onSelect) {
  container.replaceChildren();
  const spans = segmentSpans(segments, totalS, MIN_SEGMENT_FRACTION);
  const buttons = [];
  let runStart = 0;
  segments.forEach((segment, i) => {
    const { left, right } = spans[i];
    const previous = segments[i - 1];
    const next = segments[i + 1];
    const joinsPrevious = previous && previous.genre === segment.genre && Math.abs(spans[i - 1].right - left) < 1e-6;
    const joinsNext = next && next.genre === segment.genre && Math.abs(spans[i + 1].left - right) < 1e-6;
    if (!joinsPrevious) runStart = left;
    const button = element("button", "segment");
    button.type = "button";
    if (joinsPrevious) button.classList.add("joins-previous");
    if (joinsNext) button.classList.add("joins-next");
    button.style.left = `${(left * 100).toFixed(4)}%`;
    button.style.width = `${((right - left) * 100).toFixed(4)}%`;
    button.style.setProperty("--genre-color", genreColor(segment.genre));
    button.style.setProperty("--confidence", String(0.45 + 0.55 * Math.max(0, Math.min(1, segment.score))));
    const label = `${formatSpan(segment.start_s, segment.end_s)} ${segment.genre} ${formatPercent(segment.score)}`;
    button.setAttribute("aria-label", label);
    button.title = `${formatSpan(segment.start_s, segment.end_s)} · ${genreTitle(segment.genre)} ${formatPercent(segment.score)}`;
    button.dataset.start = String(segment.start_s);
    button.dataset.genre = segment.genre;
    button.addEventListener("click", () => onSelect(segment, i));
    container.append(button);
    buttons.push(button);
    if (!joinsNext) {
      const runLabel = element("span", "segment-label");
      runLabel.append(element("span", "", genreTitle(segment.genre)));
      runLabel.setAttribute("aria-hidden", "true");
      runLabel.style.left = `${(runStart * 100).toFixed(4)}%`;
      runLabel.style.width = `${((right - runStart) * 100).toFixed(4)}%`;
      container.append(runLabel);
    }
  });
  return buttons;
}

/** Tag chips with scores; returns whether there were any. */
export function renderTags(list, tags) {
  list.replaceChildren();
  for (const tag of tags || []) {
    const chip = element("li", "tag");
    chip.append(element("span", "tag-name", tag.tag), element("span", "tag-score", formatPercent(tag.score)));
    list.append(chip);
  }
  return Boolean(tags && tags.length);
}

const WARNING_HINTS = {
  "near-silent input": "The recording is almost silent, so the genre is a guess.",
  "may not be music": "This sounds like speech, noise or a test tone rather than music.",
};

/** Visible warnings (with a plain-language hint for the known ones). */
export function renderWarnings(list, warnings) {
  list.replaceChildren();
  for (const text of warnings || []) {
    const item = element("li", "warning");
    const strong = element("strong", "", text.charAt(0).toUpperCase() + text.slice(1));
    item.append(strong);
    const hint = WARNING_HINTS[text.toLowerCase()];
    if (hint) item.append(document.createTextNode(` \u2014 ${hint}`));
    list.append(item);
  }
  list.hidden = !(warnings && warnings.length);
}
