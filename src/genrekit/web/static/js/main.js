// genrekit web UI: upload or link in, result out; hash routes "#/" and "#/r/<id>".

import {
  ApiError,
  CancelledError,
  audioUrl,
  classifyUrl,
  getClassification,
  getConfig,
  getModel,
  getVisuals,
  resultHash,
  resultIdFromHash,
} from "./api.js";
import { exportHistory, fetchAll } from "./export.js";
import { formatDuration, formatPercent, formatSize, formatTime, genreColor, genreTitle } from "./format.js";
import { History } from "./history.js";
import { Player } from "./player.js";
import { UploadQueue, droppedFiles } from "./queue.js";
import {
  headline,
  renderGenreBars,
  renderSummary,
  renderTags,
  renderTimeline,
  renderWarnings,
  segmentAt,
  timelineDisagreement,
  timelineNote,
} from "./result.js";
import { Spectrogram, renderSpectrogramAxes } from "./spectrogram.js";
import { Waveform, decodePeaks } from "./waveform.js";

const $ = (id) => document.getElementById(id);

const nodes = {
  main: $("main"),
  modelBadge: $("model-badge"),
  dropzone: $("dropzone"),
  fileInput: $("file-input"),
  pickFile: $("pick-file"),
  uploadLimits: $("upload-limits"),
  urlForm: $("url-form"),
  urlInput: $("url-input"),
  urlSubmit: $("url-submit"),
  progress: $("progress"),
  progressLabel: $("progress-label"),
  progressBar: $("progress-bar"),
  cancel: $("cancel"),
  error: $("error"),
  errorTitle: $("error-title"),
  errorDetail: $("error-detail"),
  errorDismiss: $("error-dismiss"),
  status: $("status"),
  result: $("result"),
  resultEyebrow: $("result-eyebrow"),
  resultGenre: $("result-genre"),
  resultConfidence: $("result-confidence"),
  resultAnswer: $("result-answer"),
  resultName: $("result-name"),
  resultFacts: $("result-facts"),
  permalink: $("permalink"),
  copyLink: $("copy-link"),
  warnings: $("warnings"),
  play: $("play"),
  timeCurrent: $("time-current"),
  timeTotal: $("time-total"),
  nowGenre: $("now-genre"),
  audioNote: $("audio-note"),
  waveform: $("waveform"),
  waveformCanvas: $("waveform-canvas"),
  timeline: $("timeline"),
  timelineLegend: $("timeline-legend"),
  timelineNote: $("timeline-note"),
  rulerEnd: $("ruler-end"),
  melCanvas: $("mel-canvas"),
  melPlayhead: $("mel-playhead"),
  melCaption: $("mel-caption"),
  melFreqAxis: $("mel-freq-axis"),
  melTimeAxis: $("mel-time-axis"),
  queuePanel: $("queue-panel"),
  queue: $("queue"),
  queueCancel: $("queue-cancel"),
  audio: $("audio"),
  genreBars: $("genre-bars"),
  tags: $("tags"),
  tagsEmpty: $("tags-empty"),
  historyTitle: $("history-title"),
  historyList: $("history-list"),
  historyEmpty: $("history-empty"),
  historyMore: $("history-more"),
  historyGenre: $("history-genre"),
  historySearch: $("history-search"),
  historyNotice: $("history-notice"),
  exportCsv: $("export-csv"),
  exportJson: $("export-json"),
  historyClear: $("history-clear"),
  navHistory: $("nav-history"),
};

const TIMELINE_POLL_MS = 1000; // how often a running full timeline is fetched again
const NOT_KEPT = "The audio of this result was not kept (too large, too old, or uploaded before audio was kept).";
const CANNOT_PLAY = "This browser cannot play this file's format; the waveform comes from the server.";
const NO_SERVER_AUDIO = "Playback needs the original file: this server does not keep uploaded audio. The waveform and spectrogram are stored copies.";
const SERVER_AUDIO_FAILED = "The stored audio could not be played: the server has none for this result, or this browser cannot play its format.";

const state = {
  job: null, // {abort} while an upload or link is being classified
  shownId: null,
  route: 0, // increases on every navigation; stale loads compare against it
  results: new Map(), // id -> result object already fetched or received
  local: new Map(), // id -> {file, peaks: Promise} for uploads made in this tab
  bands: [],
  bandButtons: [],
  currentBand: -1,
  durationS: 0,
  config: null, // GET /config once it answered: upload limit, duration limit, whether audio is kept
  configReady: null, // Promise of the config, resolving to null when the server could not be asked
};

// ---------------------------------------------------------------- status, errors, progress

function announce(text) {
  nodes.status.textContent = "";
  window.setTimeout(() => {
    nodes.status.textContent = text;
  }, 30);
}

function showError(title, detail = "") {
  nodes.errorTitle.textContent = title;
  nodes.errorDetail.textContent = detail;
  nodes.errorDetail.hidden = !detail;
  nodes.error.hidden = false;
}

function showApiError(error) {
  if (error instanceof ApiError) showError(error.title, error.detail);
  else showError("Something went wrong", String((error && error.message) || error));
}

function clearError() {
  nodes.error.hidden = true;
}

function setBusy(job) {
  state.job = job;
  const busy = Boolean(job);
  nodes.progress.hidden = !busy;
  nodes.dropzone.setAttribute("aria-disabled", String(busy));
  nodes.dropzone.classList.toggle("is-busy", busy);
  nodes.pickFile.disabled = busy;
  nodes.urlInput.disabled = busy;
  nodes.urlSubmit.disabled = busy;
  nodes.cancel.disabled = !busy;
  document.body.classList.toggle("is-busy", busy);
}

function showAnalysing(text) {
  nodes.progressBar.removeAttribute("value");
  nodes.progressBar.removeAttribute("aria-valuetext");
  nodes.progressLabel.textContent = text;
  announce(text);
}

// ---------------------------------------------------------------- classification jobs

async function runJob(job) {
  setBusy(job);
  try {
    const result = await job.promise;
    state.results.set(result.id, result);
    history.prepend(result);
    catalogChanged(result.id);
    const top = (result.genres || [])[0];
    announce(top ? `Done: ${genreTitle(top.genre)}, ${formatPercent(top.score)} confidence.` : "Done.");
    state.shownId = null;
    navigate(resultHash(result.id));
  } catch (error) {
    if (error instanceof CancelledError) {
      announce("Cancelled.");
    } else {
      showApiError(error);
      announce(error instanceof ApiError ? `Error: ${error.title}` : "Error.");
    }
  } finally {
    setBusy(null);
  }
}

/** Tell the panels that follow the catalog (similar tracks) that a result was stored. */
function catalogChanged(id) {
  document.dispatchEvent(new CustomEvent("genrekit:catalog-changed", { detail: { id } }));
}

/** A result of the upload queue: kept with its file (for playback) and listed; the first is shown. */
function onQueuedResult(result, file, first) {
  state.results.set(result.id, result);
  state.local.set(result.id, { file, peaks: decodePeaks(file) });
  history.prepend(result);
  catalogChanged(result.id);
  const top = (result.genres || [])[0];
  announce(`${file.name}: ${top ? `${genreTitle(top.genre)} ${formatPercent(top.score)}` : "done"}.`);
  if (first) {
    state.shownId = null;
    navigate(resultHash(result.id));
  }
}

function classifyFiles(files) {
  if (!files.length) return;
  clearError();
  nodes.queuePanel.hidden = false;
  queue.add(files);
}

function classifyLink(text) {
  if (state.job) return;
  clearError();
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    url = null;
  }
  if (!url || !["http:", "https:"].includes(url.protocol)) {
    showError("Invalid link", "Enter a full http:// or https:// link to an audio file or a music page.");
    nodes.urlInput.focus();
    return;
  }
  const job = classifyUrl(url.href);
  runJob(job);
  showAnalysing("Fetching the link and analysing…");
}

// ---------------------------------------------------------------- result view

function permalinkFor(id) {
  return `${window.location.origin}${window.location.pathname}${resultHash(id)}`;
}

function onTime(seconds) {
  nodes.timeCurrent.textContent = formatTime(seconds);
  waveform.setPosition(seconds);
  const fraction = state.durationS ? Math.min(1, seconds / state.durationS) : 0;
  nodes.melPlayhead.style.left = `${(fraction * 100).toFixed(3)}%`;
  const index = segmentAt(state.bands, seconds);
  if (index !== state.currentBand) {
    if (state.bandButtons[state.currentBand]) state.bandButtons[state.currentBand].classList.remove("is-current");
    if (state.bandButtons[index]) state.bandButtons[index].classList.add("is-current");
    state.currentBand = index;
    const band = state.bands[index];
    nodes.nowGenre.textContent = band ? `Now: ${genreTitle(band.genre)} ${formatPercent(band.score)}` : "";
    nodes.nowGenre.style.setProperty("--genre-color", band ? genreColor(band.genre) : "transparent");
  }
}

function onPlayState(playing) {
  nodes.play.classList.toggle("is-playing", playing);
  nodes.play.setAttribute("aria-label", playing ? "Pause" : "Play");
}

function onAvailability(available, reason) {
  nodes.play.disabled = !available;
  nodes.audioNote.hidden = available || !reason;
  nodes.audioNote.textContent = available ? "" : reason;
}

async function showResult(id) {
  if (state.shownId === id) return;
  const token = state.route;
  let result = state.results.get(id);
  if (!result) {
    announce("Loading the result…");
    try {
      result = await getClassification(id);
    } catch (error) {
      if (token !== state.route) return;
      hideResult();
      if (error instanceof ApiError && error.status === 404) showError("Result not found", `There is no stored result ${id}. It may have been deleted.`);
      else showApiError(error);
      return;
    }
    if (token !== state.route) return;
    state.results.set(id, result);
  }
  state.shownId = id;
  clearError();
  render(result);
  history.markCurrent(id);
  nodes.result.hidden = false;
  document.body.classList.add("has-result");
  nodes.resultGenre.focus({ preventScroll: true });
  nodes.result.scrollIntoView({ behavior: "smooth", block: "start" });

  const local = state.local.get(id);
  const visualsPromise = getVisuals(id).catch(() => null);
  if (local) player.load(local.file, result.duration_s, CANNOT_PLAY);
  else loadServerAudio(result, token);
  if (result.timeline && result.timeline.state === "running") followTimeline(id, token);

  const localPeaks = local ? await local.peaks : null;
  if (token !== state.route) return;
  if (localPeaks) waveform.setPeaks(localPeaks.peaks, result.duration_s);
  const visuals = await visualsPromise;
  if (token !== state.route) return;
  if (visuals) {
    if (!localPeaks) waveform.setPeaks(visuals.peaks, result.duration_s);
    spectrogram.setMel(visuals.mel);
    renderSpectrogramAxes(nodes.melFreqAxis, nodes.melTimeAxis, visuals.mel, result.duration_s);
    const { db_min: dbMin, db_max: dbMax } = visuals.mel;
    nodes.melCaption.textContent = `Mel spectrogram: time across, frequency up (mel scale) · dark ${Math.round(dbMin)} dB to bright ${Math.round(dbMax)} dB`;
  } else {
    spectrogram.setMel(null);
    renderSpectrogramAxes(nodes.melFreqAxis, nodes.melTimeAxis, null, 0);
    nodes.melCaption.textContent = "No spectrogram stored for this result.";
  }
  onTime(player.time);
}

/** Poll a result whose full timeline is being computed, redrawing the timeline until it covers the song. */
async function followTimeline(id, token) {
  while (token === state.route) {
    await new Promise((resolve) => window.setTimeout(resolve, TIMELINE_POLL_MS));
    if (token !== state.route) return;
    let fresh;
    try {
      fresh = await getClassification(id);
    } catch {
      continue;
    }
    if (token !== state.route) return;
    state.results.set(id, fresh);
    renderTimelineOf(fresh);
    onTime(player.time);
    if (fresh.timeline.state !== "running") {
      renderAnswer(fresh);
      announce(fresh.complete ? `The whole song is analysed: ${headline(fresh).title}, from every window.` : "The timeline stopped before the end.");
      history.prepend(fresh);
      return;
    }
  }
}

async function loadServerAudio(result, token) {
  const { id, duration_s: durationS } = result;
  player.load(null, durationS, "");
  const config = state.config || (await state.configReady);
  if (token !== state.route) return;
  if ((config && !config.keep_audio) || result.has_audio === false) {
    player.load(null, durationS, config && !config.keep_audio ? NO_SERVER_AUDIO : NOT_KEPT);
    return;
  }
  const position = player.time;
  player.load(audioUrl(id), durationS, SERVER_AUDIO_FAILED);
  if (position) player.seek(position);
}

function renderTimelineOf(result) {
  state.durationS = result.duration_s || 0;
  state.currentBand = -1;
  const { buttons, bands } = renderTimeline(nodes.timeline, nodes.timelineLegend, result.segments || [], state.durationS, (band) => {
    player.seek(band.start_s, { play: true });
  });
  state.bands = bands;
  state.bandButtons = buttons;
  nodes.timelineNote.textContent = timelineNote(result);
  nodes.timelineNote.hidden = !nodes.timelineNote.textContent;
}

/** The answer of a result: headline and its notes, warnings, genre bars (with the window shares
 * where most of the timeline names another genre) and tags; redrawn when the whole song's answer
 * replaces the first look. */
function renderAnswer(result) {
  renderSummary(result, {
    eyebrow: nodes.resultEyebrow,
    genre: nodes.resultGenre,
    confidence: nodes.resultConfidence,
    answer: nodes.resultAnswer,
    name: nodes.resultName,
    facts: nodes.resultFacts,
  });
  renderWarnings(nodes.warnings, result.warnings);
  renderGenreBars(nodes.genreBars, result.genres, timelineDisagreement(result) ? result.shares : null);
  nodes.tagsEmpty.hidden = renderTags(nodes.tags, result);
}

function render(result) {
  renderAnswer(result);
  nodes.permalink.value = permalinkFor(result.id);
  nodes.copyLink.textContent = "Copy link";
  renderTimelineOf(result);
  nodes.timeTotal.textContent = formatTime(state.durationS);
  nodes.rulerEnd.textContent = formatTime(state.durationS);
  nodes.nowGenre.textContent = "";
  waveform.setPeaks([], state.durationS);
  spectrogram.setMel(null);
  nodes.melCaption.textContent = "Loading the spectrogram…";
  // Hook for other panels (similar tracks, feedback, explanations): listen for this event and
  // fill your own element inside #result-panels.
  document.dispatchEvent(new CustomEvent("genrekit:result", { detail: { result } }));
}

function hideResult() {
  state.shownId = null;
  player.load(null, 0, "");
  nodes.result.hidden = true;
  document.body.classList.remove("has-result");
  history.markCurrent(null);
}

// ---------------------------------------------------------------- routing

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function route() {
  state.route += 1;
  const id = resultIdFromHash(window.location.hash);
  if (id !== null) showResult(id);
  else if (window.location.hash === "" || window.location.hash === "#/") hideResult();
}

// ---------------------------------------------------------------- server config

/** " · up to 100 MiB and 20 min" for the drop zone's hint. */
function limitsText(config) {
  const parts = [`up to ${formatSize(config.max_upload_bytes)}`];
  if (config.max_duration_s) parts.push(formatDuration(config.max_duration_s).replace(/ 0+ (s|min)$/, ""));
  return ` · ${parts.join(" and ")}`;
}

/** Ask the server for its limits once (again every 5 s while it cannot be reached); resolves to the config or null. */
/** The notice under the history: whether and how long uploaded audio is kept. */
function audioNotice(config) {
  if (!config.keep_audio) return "This server does not keep uploaded audio: history shows results only.";
  const days = Math.round(config.audio_max_age_days);
  return `Uploaded audio is kept on this server for ${days} days (files up to ${formatSize(config.audio_max_file_bytes)}, ` +
    `${formatSize(config.audio_max_total_bytes)} in all, oldest dropped first) so history can play it. Delete an item to remove it and its audio.`;
}

async function loadConfig() {
  try {
    state.config = await getConfig();
    nodes.uploadLimits.textContent = limitsText(state.config);
    nodes.historyNotice.textContent = audioNotice(state.config);
  } catch {
    window.setTimeout(() => {
      state.configReady = loadConfig();
    }, 5000);
  }
  return state.config;
}

// ---------------------------------------------------------------- model badge

async function loadModel() {
  try {
    const model = await getModel();
    nodes.modelBadge.textContent = `Model: ${model.name} ${model.version}`;
    nodes.modelBadge.classList.remove("is-warning");
    nodes.modelBadge.title = `${model.labels.length} genres: ${model.labels.join(", ")}`;
    history.setGenres(model.labels);
  } catch (error) {
    nodes.modelBadge.textContent = error instanceof ApiError && error.status === 503 ? "Model loading…" : "Server unreachable";
    nodes.modelBadge.classList.add("is-warning");
    nodes.modelBadge.title = error instanceof ApiError ? error.detail : "";
    window.setTimeout(loadModel, 5000);
  }
}

// ---------------------------------------------------------------- wiring

const waveform = new Waveform(nodes.waveform, nodes.waveformCanvas, {
  onSeek: (seconds) => player.seek(seconds),
});
const spectrogram = new Spectrogram(nodes.melCanvas);
const player = new Player(nodes.audio, { onTime, onState: onPlayState, onAvailability });
const history = new History(
  { list: nodes.historyList, empty: nodes.historyEmpty, more: nodes.historyMore, filter: nodes.historyGenre, search: nodes.historySearch },
  {
    onError: (error) => showApiError(error),
    onDeleted: (id) => {
      state.results.delete(id);
      state.local.delete(id);
      announce("Deleted.");
      if (state.shownId === id) navigate("#/");
    },
  },
);
const queue = new UploadQueue(nodes.queue, {
  maxBytes: () => (state.config ? state.config.max_upload_bytes : 0),
  onResult: onQueuedResult,
  onStatus: announce,
  onBusy: (busy) => {
    nodes.queueCancel.hidden = !busy;
  },
});

function openPicker() {
  nodes.fileInput.click();
}

nodes.pickFile.addEventListener("click", openPicker);
nodes.dropzone.addEventListener("click", openPicker);
nodes.dropzone.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    openPicker();
  }
});
nodes.fileInput.addEventListener("change", () => {
  const files = Array.from(nodes.fileInput.files || []);
  nodes.fileInput.value = "";
  classifyFiles(files);
});

let dragDepth = 0;
function hasFiles(event) {
  return Array.from((event.dataTransfer && event.dataTransfer.types) || []).includes("Files");
}
document.addEventListener("dragenter", (event) => {
  if (!hasFiles(event)) return;
  dragDepth += 1;
  nodes.dropzone.classList.add("is-dragging");
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) nodes.dropzone.classList.remove("is-dragging");
});
document.addEventListener("dragover", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "copy";
});
document.addEventListener("drop", async (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  nodes.dropzone.classList.remove("is-dragging");
  classifyFiles(await droppedFiles(event.dataTransfer));
});
nodes.queueCancel.addEventListener("click", () => queue.cancel());

async function runExport(format) {
  try {
    const count = await exportHistory(format, history.filters, permalinkFor);
    announce(`Exported ${count} result${count === 1 ? "" : "s"} as ${format.toUpperCase()}.`);
  } catch (error) {
    showApiError(error);
  }
}
nodes.exportCsv.addEventListener("click", () => runExport("csv"));
nodes.historyClear.addEventListener("click", async () => {
  const count = await history.clear(fetchAll);
  if (count) announce(`Deleted ${count} result${count === 1 ? "" : "s"}.`);
});
nodes.exportJson.addEventListener("click", () => runExport("json"));

nodes.urlForm.addEventListener("submit", (event) => {
  event.preventDefault();
  classifyLink(nodes.urlInput.value);
});
nodes.cancel.addEventListener("click", () => state.job && state.job.abort());
nodes.errorDismiss.addEventListener("click", () => {
  clearError();
  nodes.dropzone.focus();
});

nodes.play.addEventListener("click", () => player.toggle());
nodes.copyLink.addEventListener("click", async () => {
  const url = nodes.permalink.value;
  let copied = false;
  try {
    await navigator.clipboard.writeText(url);
    copied = true;
  } catch {
    nodes.permalink.select();
    copied = document.execCommand("copy");
  }
  nodes.copyLink.textContent = copied ? "Copied!" : "Select and copy";
  announce(copied ? "Link copied to the clipboard." : "Copying failed: the link is selected, copy it by hand.");
  window.setTimeout(() => {
    nodes.copyLink.textContent = "Copy link";
  }, 2500);
});
nodes.permalink.addEventListener("focus", () => nodes.permalink.select());
nodes.navHistory.addEventListener("click", () => {
  nodes.historyTitle.scrollIntoView({ behavior: "smooth", block: "start" });
  nodes.historyTitle.focus({ preventScroll: true });
});

window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  waveform.draw();
  spectrogram.draw();
});
window.addEventListener("hashchange", route);

state.configReady = loadConfig();
loadModel();
history.load(true);
route();
