// Rendering of one classification: headline (with its uncertainty), genre bars, timeline bands, grouped tags, warnings.
// Builds DOM from data with textContent only (names come from users and links).

import { el } from "./dom.js";
import { formatDuration, formatPercent, formatSpan, formatTime, formatWhen, genreColor, genreTitle } from "./format.js";

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

const CONTIGUOUS_S = 0.05; // gap between windows still drawn as one band (seconds)

/**
 * What the timeline shows, in words that match what was analysed.
 * @param {object} result a classification (segments, duration_s, complete, timeline)
 * @returns {string} "" when every window was classified
 */
export function timelineNote(result) {
  const segments = result.segments || [];
  const totalS = result.duration_s || 0;
  if (!segments.length || !(totalS > 0) || result.complete !== false) return "";
  const timeline = result.timeline || { state: "partial", covered_s: 0 };
  if (timeline.state === "running") {
    const percent = Math.min(99, Math.floor((100 * timeline.covered_s) / totalS));
    return `First look from a few windows spread over the song; now analysing every section (${percent}% done).`;
  }
  const seconds = Math.round(segments[0].end_s - segments[0].start_s);
  return `Genre read from ${segments.length} windows of ${seconds} s spread over the song; the gaps were not analysed.`;
}

/**
 * Consecutive windows of one genre merged into bands.
 * @param {{start_s: number, end_s: number, genre: string, score: number, runner_up?: {genre: string, score: number}}[]} segments in time order
 * @returns {{start_s: number, end_s: number, genre: string, score: number, runnerUp: {genre: string, score: number}|null, first: number, last: number}[]}
 *   `score` is the mean top score, `runnerUp` the genre with the highest mean second score
 */
export function genreBands(segments) {
  const bands = [];
  segments.forEach((segment, i) => {
    const band = bands[bands.length - 1];
    if (band && band.genre === segment.genre && segment.start_s <= band.end_s + CONTIGUOUS_S) {
      band.end_s = Math.max(band.end_s, segment.end_s);
      band.last = i;
      band.scores.push(segment.score);
    } else {
      bands.push({ start_s: segment.start_s, end_s: segment.end_s, genre: segment.genre, first: i, last: i, scores: [segment.score], seconds: new Map() });
    }
    const current = bands[bands.length - 1];
    if (segment.runner_up) {
      const { genre, score } = segment.runner_up;
      current.seconds.set(genre, (current.seconds.get(genre) || 0) + score);
    }
  });
  return bands.map(({ scores, seconds, ...band }) => {
    const n = scores.length;
    let runnerUp = null;
    for (const [genre, total] of seconds) if (!runnerUp || total / n > runnerUp.score) runnerUp = { genre, score: total / n };
    return { ...band, score: scores.reduce((a, b) => a + b, 0) / n, runnerUp };
  });
}

/** Relative luminance of a "#rrggbb" colour (WCAG 2). */
function luminance(hex) {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Black or white, whichever contrasts more with the colour (at least 4.58:1 for any colour). */
export function textColorOn(hex) {
  const light = luminance(hex);
  return (light + 0.05) / 0.05 >= 1.05 / (light + 0.05) ? "#000000" : "#ffffff";
}

/** The segment (or band) playing at `seconds` (index; the later one where two touch), or -1. */
export function segmentAt(segments, seconds) {
  let found = -1;
  for (let i = 0; i < segments.length; i += 1) {
    if (segments[i].start_s <= seconds + 1e-6) found = i;
    else break;
  }
  if (found >= 0 && seconds > segments[found].end_s + 1e-6) return -1;
  return found;
}

/**
 * How sure the headline can be: the level the API returns (`uncertainty.level`, set from the
 * model card's measured rules), or null for a result stored before levels existed. The page
 * never re-derives a level from the scores.
 * @returns {"confident"|"mixed"|"unknown"|null}
 */
export function uncertaintyLevel(result) {
  return (result.uncertainty && result.uncertainty.level) || null;
}

/**
 * Which answer a result is: "whole-song" once every window is classified (`complete`), else
 * "first-look" (a few windows spread over the song).
 * @returns {"whole-song"|"first-look"}
 */
export function answerKind(result) {
  return result.complete === false ? "first-look" : "whole-song";
}

/**
 * Where most of the timeline names another genre than the headline: that genre and both
 * shares of the windows (0..1), from the result's `shares`; null where they agree or the
 * result has no shares.
 * @returns {{genre: string, share: number, top: string, topShare: number}|null}
 */
export function timelineDisagreement(result) {
  const shares = result.shares || [];
  const [top] = result.genres || [];
  if (!top || !shares.length) return null;
  const most = shares.reduce((best, item) => (item.score > best.score ? item : best));
  const own = shares.find((item) => item.genre === top.genre);
  const topShare = own ? own.score : 0;
  if (most.score <= topShare) return null;
  return { genre: most.genre, share: most.score, top: top.genre, topShare };
}

/**
 * The lines under the headline: which answer it is, what its level means in numbers (the
 * card's measured `uncertainty.reliability.statement`, where the API gives one), and why
 * the headline differs from most of the timeline, where it does.
 * @returns {string[]}
 */
export function answerNotes(result) {
  const notes = [];
  const n = (result.segments || []).length;
  if (answerKind(result) === "whole-song") {
    notes.push("Whole song: the answer from every window.");
  } else if (result.timeline && result.timeline.state === "running") {
    notes.push("First look from a few windows spread over the song; the whole song's answer replaces it once every window is analysed.");
  } else {
    notes.push(`First look from ${n} windows spread over the song.`);
  }
  const reliability = result.uncertainty && result.uncertainty.reliability;
  if (reliability && reliability.statement) notes.push(reliability.statement);
  const split = timelineDisagreement(result);
  if (split) {
    const windows = answerKind(result) === "whole-song" ? "the song's windows" : "the windows read";
    notes.push(
      `${genreTitle(split.genre)} tops ${formatPercent(split.share)} of ${windows}, ${genreTitle(split.top)} ${formatPercent(split.topShare)}; ` +
        `${genreTitle(split.top)} leads once every window's scores are combined (shares beside the scores below).`,
    );
  }
  return notes;
}

/**
 * The genres a mixed answer names, with their scores: `uncertainty.named` (two or three, as the
 * model card's rule chose), or the top two for a result stored before the API named them.
 * @returns {{genre: string, score: number}[]}
 */
export function mixedGenres(result) {
  const genres = result.genres || [];
  const named = (result.uncertainty && result.uncertainty.named) || [];
  const picked = named.map((name) => genres.find((g) => g.genre === name)).filter(Boolean);
  return picked.length >= 2 ? picked : genres.slice(0, 2);
}

/** The headline of a result: {eyebrow, title, detail, color}. */
export function headline(result) {
  const genres = result.genres || [];
  const [top, second] = genres;
  if (!top) return { eyebrow: "Top genre", title: "No result", detail: "", color: "currentColor" };
  const level = uncertaintyLevel(result);
  const kind = answerKind(result) === "whole-song" ? "whole song" : "first look";
  const listed = (items) => items.map((g) => `${genreTitle(g.genre)} ${formatPercent(g.score)}`).join(", ");
  if (level === "unknown") {
    return {
      eyebrow: `Not sure · ${kind}`,
      title: `None of these ${genres.length} genres`,
      detail: `Probably outside what this model knows. Closest: ${listed(genres.slice(0, 3))}`,
      color: "var(--muted)",
    };
  }
  if (level === "mixed" && second) {
    const named = mixedGenres(result);
    return {
      eyebrow: `Between ${named.length === 3 ? "three" : "two"} genres · ${kind}`,
      title: `Mixed: ${named.map((g) => genreTitle(g.genre)).join(" / ")}`,
      detail: `${listed(named)}: too close to call`,
      color: genreColor(top.genre),
    };
  }
  return {
    eyebrow: `Top genre · ${kind}`,
    title: genreTitle(top.genre),
    detail: `${formatPercent(top.score)} confidence` + (second ? ` · then ${genreTitle(second.genre)} ${formatPercent(second.score)}` : ""),
    color: genreColor(top.genre),
  };
}

/** Headline, answer notes, file name and facts (each fact kept on one line). */
export function renderSummary(result, nodes) {
  const head = headline(result);
  nodes.eyebrow.textContent = head.eyebrow;
  nodes.genre.textContent = head.title;
  nodes.genre.style.setProperty("--genre-color", head.color);
  nodes.genre.dataset.level = uncertaintyLevel(result) || "";
  nodes.genre.dataset.answer = answerKind(result);
  nodes.confidence.textContent = head.detail;
  if (nodes.answer) nodes.answer.replaceChildren(...answerNotes(result).map((note) => el("span", { className: "answer-note" }, note)));
  const name = result.filename || result.name || "";
  nodes.name.textContent = name;
  nodes.name.title = name;
  const facts = [formatDuration(result.duration_s)];
  if (result.model) facts.push(`${result.model.name} ${result.model.version}`);
  if (result.created_at) facts.push(formatWhen(result.created_at));
  if (result.cached) facts.push("classified before");
  nodes.facts.replaceChildren(...facts.map((fact) => el("span", { className: "fact" }, fact)));
}

/**
 * One bar per genre, highest first; the winner is emphasised. Given `shares` (each genre's
 * share of the windows, as the result's `shares`), each bar also says how much of the
 * timeline that genre tops.
 */
export function renderGenreBars(list, genres, shares = null) {
  list.replaceChildren();
  const shareOf = new Map((shares || []).map((item) => [item.genre, item.score]));
  list.classList.toggle("has-shares", shareOf.size > 0);
  (genres || []).forEach((item, i) => {
    const width = `${Math.max(0, Math.min(100, item.score * 100)).toFixed(2)}%`;
    const share = shareOf.size ? el("span", { className: "genre-bar-share" }, `${formatPercent(shareOf.get(item.genre) || 0)} of windows`) : null;
    list.append(
      el(
        "li",
        { className: i === 0 ? "genre-bar is-top" : "genre-bar", style: { "--genre-color": genreColor(item.genre) }, "data-genre": item.genre },
        el("span", { className: "genre-bar-name" }, genreTitle(item.genre)),
        el("span", { className: "genre-bar-track", "aria-hidden": "true" }, el("span", { className: "genre-bar-fill", style: { width } })),
        el("span", { className: "genre-bar-value" }, formatPercent(item.score)),
        share,
      ),
    );
  });
}

/**
 * The timeline: one labelled button per band of one genre (hover: span, score and runner-up;
 * click: play from its start), and a legend of the genres shown.
 * @returns {{buttons: HTMLButtonElement[], bands: object[]}}
 */
export function renderTimeline(container, legend, segments, totalS, onSelect) {
  container.replaceChildren();
  legend.replaceChildren();
  const bands = genreBands(segments);
  const spans = segmentSpans(bands, totalS, MIN_SEGMENT_FRACTION);
  const buttons = bands.map((band, i) => {
    const { left, right } = spans[i];
    const color = genreColor(band.genre);
    const runnerUp = band.runnerUp ? `, then ${genreTitle(band.runnerUp.genre)} ${formatPercent(band.runnerUp.score)}` : "";
    const text = `${formatSpan(band.start_s, band.end_s)} ${genreTitle(band.genre)} ${formatPercent(band.score)}${runnerUp}`;
    const style = { left: `${(left * 100).toFixed(4)}%`, width: `${((right - left) * 100).toFixed(4)}%`, "--genre-color": color, color: textColorOn(color) };
    const button = el(
      "button",
      { className: "segment", type: "button", style, "aria-label": `${text}; play from ${formatTime(band.start_s)}`, title: text },
      el("span", { className: "segment-text" }, genreTitle(band.genre)),
    );
    button.dataset.start = String(band.start_s);
    button.dataset.genre = band.genre;
    button.addEventListener("click", () => onSelect(band, i));
    container.append(button);
    return button;
  });
  for (const genre of [...new Set(bands.map((band) => band.genre))]) {
    const swatch = el("span", { className: "legend-swatch", style: { "--genre-color": genreColor(genre) }, "aria-hidden": "true" });
    legend.append(el("li", { className: "legend-item" }, swatch, el("span", {}, genreTitle(genre))));
  }
  return { buttons, bands };
}

function tagChip(tag) {
  return el("li", { className: "tag" }, el("span", { className: "tag-name" }, tag.tag), el("span", { className: "tag-score" }, formatPercent(tag.score)));
}

/**
 * Tags grouped by kind (the result's `tag_groups`: synonyms merged, weak tags dropped), or
 * the flat list for results stored before groups existed. Returns whether there were any.
 */
export function renderTags(list, result) {
  list.replaceChildren();
  const groups = result.tag_groups || [];
  if (groups.length) {
    for (const group of groups) {
      const chips = el("ul", { className: "tags-in-group", "aria-label": group.title }, ...group.tags.map(tagChip));
      list.append(el("li", { className: "tag-group", "data-group": group.group }, el("span", { className: "tag-group-title" }, group.title), chips));
    }
    return true;
  }
  list.append(...(result.tags || []).map(tagChip));
  return Boolean(result.tags && result.tags.length);
}

const WARNING_HINTS = {
  "near-silent input": "The recording is almost silent, so the genre is a guess.",
  "may not be music": "This sounds like speech, noise or a test tone rather than music.",
};

/** Visible warnings (with a plain-language hint for the known ones). */
export function renderWarnings(list, warnings) {
  list.replaceChildren();
  for (const text of warnings || []) {
    const hint = WARNING_HINTS[text.toLowerCase()];
    list.append(el("li", { className: "warning" }, el("strong", {}, text.charAt(0).toUpperCase() + text.slice(1)), hint ? ` \u2014 ${hint}` : null));
  }
  list.hidden = !(warnings && warnings.length);
}
