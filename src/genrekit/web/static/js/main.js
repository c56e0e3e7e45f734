// genrekit web UI: upload or link in, result out; hash routes "#/" and "#/r/<id>".

import { ApiError, CancelledError, audioUrl, classifyUrl, getClassification, getConfig, getModel, getVisuals, uploadFile } from "./api.js";
import { formatDuration, formatPercent, formatSize, formatTime, genreColor, genreTitle } from "./format.js";
import { History } from "./history.js";
import { Player } from "./player.js";
import {
  renderGenreBars,
  renderSummary,
  renderTags,
  renderTimeline,
  renderWarnings,
  segmentAt,
  timelineNote,
} from "./result.js";
import { Spectrogram } from "./spectrogram.js";
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
  resultGenre: $("result-genre"),
  resultConfidence: $("result-confidence"),
  resultRunnerUp: $("result-runner-up"),
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
  timelineNote: $("timeline-note"),
  rulerEnd: $("ruler-end"),
  melCanvas: $("mel-canvas"),
  melPlayhead: $("mel-playhead"),
  melCaption: $("mel-caption"),
  audio: $("audio"),
  genreBars: $("genre-bars"),
  tags: $("tags"),
  tagsEmpty: $("tags-empty"),
  historyTitle: $("history-title"),
  historyList: $("history-list"),
  historyEmpty: $("history-empty"),
  historyMore: $("history-more"),
  historyGenre: $("history-genre"),
  navHistory: $("nav-history"),
};

const CANNOT_PLAY = "This browser cannot play this file's format; the waveform comes from the server.";
const NO_SERVER_AUDIO = "Playback needs the original file: this server does not keep uploaded audio. The waveform and spectrogram are stored copies.";
const SERVER_AUDIO_FAILED = "The stored audio could not be played: the server has none for this result, or this browser cannot play its format.";

const state = {
  job: null, // {abort} while an upload or link is being classified
  shownId: null,
  route: 0, // increases on every navigation; stale loads compare against it
  results: new Map(), // id -> result object already fetched or received
  local: new Map(), // id -> {file, peaks: Promise} for uploads made in this tab
  segments: [],
  segmentButtons: [],
  currentSegment: -1,
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

function showUploadProgress(fraction) {
  const percent = Math.round(fraction * 100);
  nodes.progressBar.value = percent;
  nodes.progressBar.setAttribute("aria-valuetext", `${percent}% uploaded`);
  nodes.progressLabel.textContent = `Uploading… ${percent}%`;
}

function showAnalysing(text) {
  nodes.progressBar.removeAttribute("value");
  nodes.progressBar.removeAttribute("aria-valuetext");
  nodes.progressLabel.textContent = text;
  announce(text);
}

// ---------------------------------------------------------------- classification jobs

async function runJob(job, { file = null, peaks = null } = {}) {
  setBusy(job);
  try {
    const result = await job.promise;
    state.results.set(result.id, result);
    if (file) state.local.set(result.id, { file, peaks });
    history.prepend(result);
    const top = (result.genres || [])[0];
    announce(top ? `Done: ${genreTitle(top.genre)}, ${formatPercent(top.score)} confidence.` : "Done.");
    state.shownId = null;
    navigate(`#/r/${encodeURIComponent(result.id)}`);
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

function classifyFile(file) {
  if (state.job || !file) return;
  clearError();
  if (file.size === 0) {
    showError("Empty file", `${file.name || "The file"} has no content.`);
    return;
  }
  const limit = state.config ? state.config.max_upload_bytes : 0;
  if (limit && file.size > limit) {
    showError("File too large", `${file.name || "The file"} is ${formatSize(file.size)}; this server accepts files up to ${formatSize(limit)}. Shorten or compress it first.`);
    announce("Error: file too large.");
    return;
  }
  nodes.progressBar.value = 0;
  showUploadProgress(0);
  announce(`Uploading ${file.name}`);
  const job = uploadFile(file, {
    onProgress: showUploadProgress,
    onUploaded: () => showAnalysing("Analysing… listening to every section"),
  });
  runJob(job, { file, peaks: decodePeaks(file) });
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
  return `${window.location.origin}${window.location.pathname}#/r/${encodeURIComponent(id)}`;
}

function onTime(seconds) {
  nodes.timeCurrent.textContent = formatTime(seconds);
  waveform.setPosition(seconds);
  const fraction = state.durationS ? Math.min(1, seconds / state.durationS) : 0;
  nodes.melPlayhead.style.left = `${(fraction * 100).toFixed(3)}%`;
  const index = segmentAt(state.segments, seconds);
  if (index !== state.currentSegment) {
    if (state.segmentButtons[state.currentSegment]) state.segmentButtons[state.currentSegment].classList.remove("is-current");
    if (state.segmentButtons[index]) state.segmentButtons[index].classList.add("is-current");
    state.currentSegment = index;
    const segment = state.segments[index];
    nodes.nowGenre.textContent = segment ? `Now: ${genreTitle(segment.genre)} ${formatPercent(segment.score)}` : "";
    nodes.nowGenre.style.setProperty("--genre-color", segment ? genreColor(segment.genre) : "transparent");
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
  else loadServerAudio(id, result.duration_s, token);

  const localPeaks = local ? await local.peaks : null;
  if (token !== state.route) return;
  if (localPeaks) waveform.setPeaks(localPeaks.peaks, result.duration_s);
  const visuals = await visualsPromise;
  if (token !== state.route) return;
  if (visuals) {
    if (!localPeaks) waveform.setPeaks(visuals.peaks, result.duration_s);
    spectrogram.setMel(visuals.mel);
    const { n_mels: nMels, db_min: dbMin, db_max: dbMax } = visuals.mel;
    nodes.melCaption.textContent = `Mel spectrogram · ${nMels} bands, low frequencies at the bottom · dark ${Math.round(dbMin)} dB to bright ${Math.round(dbMax)} dB`;
  } else {
    spectrogram.setMel(null);
    nodes.melCaption.textContent = "No spectrogram stored for this result.";
  }
  onTime(player.time);
}

async function loadServerAudio(id, durationS, token) {
  player.load(null, durationS, "");
  const config = state.config || (await state.configReady);
  if (token !== state.route) return;
  if (config && !config.keep_audio) {
    player.load(null, durationS, NO_SERVER_AUDIO);
    return;
  }
  const position = player.time;
  player.load(audioUrl(id), durationS, SERVER_AUDIO_FAILED);
  if (position) player.seek(position);
}

function render(result) {
  renderSummary(result, {
    genre: nodes.resultGenre,
    confidence: nodes.resultConfidence,
    runnerUp: nodes.resultRunnerUp,
    name: nodes.resultName,
    facts: nodes.resultFacts,
  });
  renderWarnings(nodes.warnings, result.warnings);
  renderGenreBars(nodes.genreBars, result.genres);
  nodes.tagsEmpty.hidden = renderTags(nodes.tags, result.tags);
  nodes.permalink.value = permalinkFor(result.id);
  nodes.copyLink.textContent = "Copy link";
  state.durationS = result.duration_s || 0;
  state.segments = result.segments || [];
  state.currentSegment = -1;
  nodes.timeTotal.textContent = formatTime(state.durationS);
  nodes.rulerEnd.textContent = formatTime(state.durationS);
  nodes.nowGenre.textContent = "";
  state.segmentButtons = renderTimeline(nodes.timeline, state.segments, state.durationS, (segment) => {
    player.seek(segment.start_s, { play: true });
  });
  nodes.timelineNote.textContent = timelineNote(state.segments, state.durationS);
  nodes.timelineNote.hidden = !nodes.timelineNote.textContent;
  waveform.setPeaks([], state.durationS);
  spectrogram.setMel(null);
  nodes.melCaption.textContent = "Loading the spectrogram…";
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
  const match = /^#\/r\/([^/?#]+)$/.exec(window.location.hash);
  if (match) showResult(decodeURIComponent(match[1]));
  else if (window.location.hash === "" || window.location.hash === "#/") hideResult();
}

// ---------------------------------------------------------------- server config

/** " · up to 100 MB and 20 min" for the drop zone's hint. */
function limitsText(config) {
  const parts = [`up to ${formatSize(config.max_upload_bytes)}`];
  if (config.max_duration_s) parts.push(formatDuration(config.max_duration_s).replace(/ 0+ (s|min)$/, ""));
  return ` · ${parts.join(" and ")}`;
}

/** Ask the server for its limits once (again every 5 s while it cannot be reached); resolves to the config or null. */
async function loadConfig() {
  try {
    state.config = await getConfig();
    nodes.uploadLimits.textContent = limitsText(state.config);
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
  { list: nodes.historyList, empty: nodes.historyEmpty, more: nodes.historyMore, filter: nodes.historyGenre },
  { onError: (error) => showApiError(error) },
);

function openPicker() {
  if (!state.job) nodes.fileInput.click();
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
  const [file] = nodes.fileInput.files;
  nodes.fileInput.value = "";
  classifyFile(file);
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
  event.dataTransfer.dropEffect = state.job ? "none" : "copy";
});
document.addEventListener("drop", (event) => {
  if (!hasFiles(event)) return;
  event.preventDefault();
  dragDepth = 0;
  nodes.dropzone.classList.remove("is-dragging");
  const files = Array.from(event.dataTransfer.files || []);
  if (files.length > 1) announce(`${files.length} files dropped; classifying the first one.`);
  classifyFile(files[0]);
});

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
