// Client of the genrekit REST API (/api/v1), the one place that knows the API base, the
// result-page route (#/r/<id>) and the API key of this tab. Every request goes through
// `apiFetch` (or `uploadFile`, for progress), which sends "Authorization: Bearer <key>" when a
// key is kept and announces a 401 with a "genrekit:unauthorized" event on `document` (access.js
// asks for a key then). Every failure becomes an ApiError carrying the problem+json title and
// detail the server sent (or a readable stand-in).

/** Base path of every API endpoint. */
export const API = "/api/v1";

const KEY_STORAGE = "genrekit.apiKey"; // sessionStorage entry: this tab only, never a cookie

/** The API key kept for this tab ("" when none, or when storage is unavailable). */
export function currentKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return "";
  }
}

/** Keep `key` for this tab; later requests send it. */
export function saveKey(key) {
  sessionStorage.setItem(KEY_STORAGE, key);
}

/** Tell the page that the server refused a request for want of a (valid) key. */
function announceUnauthorized(sentKey) {
  document.dispatchEvent(new CustomEvent("genrekit:unauthorized", { detail: { refused: Boolean(sentKey) } }));
}

/** Route of the result page of a stored classification ("#/r/<id>"); group 1: the encoded id. */
const RESULT_ROUTE = /^#\/r\/([^/?#]+)$/;

/** Hash of the result page of a stored classification, e.g. "#/r/abc". */
export function resultHash(id) {
  return `#/r/${encodeURIComponent(id)}`;
}

/** Link to the result page from any page of the UI, e.g. "/#/r/abc". */
export function resultHref(id) {
  return `/${resultHash(id)}`;
}

/** The classification id a hash shows (decoded), or null when it is not a result page. */
export function resultIdFromHash(hash) {
  const match = RESULT_ROUTE.exec(hash);
  return match ? decodeURIComponent(match[1]) : null;
}

export class ApiError extends Error {
  /**
   * @param {string} title short summary ("Not audio")
   * @param {string} detail what happened this time
   * @param {number} status HTTP status (0: no answer)
   */
  constructor(title, detail, status = 0) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = "ApiError";
    this.title = title;
    this.detail = detail;
    this.status = status;
  }
}

/** The user cancelled the request (not a failure to report). */
export class CancelledError extends ApiError {
  constructor() {
    super("Cancelled", "The request was cancelled.", 0);
    this.name = "CancelledError";
  }
}

const STATUS_TITLES = {
  400: "Bad request",
  404: "Not found",
  413: "File too large",
  415: "Unsupported file",
  422: "Could not process the audio",
  429: "Too many requests",
  500: "Server error",
  502: "Could not fetch the link",
  503: "Service not ready",
  504: "Timed out",
};

/** Build an ApiError from a status, the response text and its headers. */
export function problemFromResponse(status, text, retryAfter = null) {
  let title = STATUS_TITLES[status] || `HTTP ${status}`;
  let detail = "";
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      if (typeof body.title === "string" && body.title) title = body.title;
      if (typeof body.detail === "string") detail = body.detail;
      else if (Array.isArray(body.detail)) detail = body.detail.map((d) => d.msg || String(d)).join("; ");
    }
  } catch {
    detail = text && text.length < 300 ? text.trim() : "";
  }
  if (status === 429 && retryAfter) detail = `${detail} Try again in ${retryAfter} s.`.trim();
  return new ApiError(title, detail, status);
}

/**
 * fetch() of an API path with the tab's key. Asks for JSON unless `init.headers` says otherwise;
 * answers the Response whatever its status (a 401 is announced first).
 * @throws {CancelledError} when `init.signal` aborts; {ApiError} "No connection" when no answer
 */
export async function apiFetch(path, init = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  const key = currentKey();
  if (key && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${key}`);
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    if (error && error.name === "AbortError") throw new CancelledError();
    throw new ApiError("No connection", "The genrekit server cannot be reached.", 0);
  }
  if (response.status === 401) announceUnauthorized(key);
  return response;
}

/**
 * Send a request and parse the JSON answer.
 * @throws {ApiError} with the problem+json title and detail when the status is not 2xx
 */
export async function getJson(path, init = {}) {
  const response = await apiFetch(path, init);
  const text = await response.text();
  if (!response.ok) throw problemFromResponse(response.status, text, response.headers.get("Retry-After"));
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError("Bad answer", "The server sent something that is not JSON.", response.status);
  }
}

/** GET /models: the first (only) model, or throws. */
export async function getModel() {
  const body = await getJson(`${API}/models`);
  const models = body.data || body.items || [];
  if (!models.length) throw new ApiError("No model", "The server has no model loaded.", 503);
  return models[0];
}

/** GET one stored classification. */
export function getClassification(id) {
  return getJson(`${API}/classifications/${encodeURIComponent(id)}`);
}

/** GET the waveform peaks and mel image of a stored classification. */
export function getVisuals(id) {
  return getJson(`${API}/classifications/${encodeURIComponent(id)}/visuals`);
}

/** GET /config: what the server accepts (upload size, duration) and whether it keeps audio. */
export function getConfig() {
  return getJson(`${API}/config`);
}

/**
 * URL of the stored audio of a classification, for an <audio> element to stream: the server
 * answers Range requests (206), so the player can seek without downloading everything.
 */
export function audioUrl(id) {
  return `${API}/classifications/${encodeURIComponent(id)}/audio`;
}

/**
 * GET one page of history, newest first.
 * @returns {Promise<{items: object[], nextCursor: string|null}>}
 */
export async function listClassifications({ genre = "", query = "", limit = 12, cursor = null } = {}) {
  const params = new URLSearchParams({ limit: String(limit) });
  if (genre) params.set("genre", genre);
  if (query) params.set("q", query);
  if (cursor) params.set("cursor", cursor);
  const body = await getJson(`${API}/classifications?${params}`);
  return { items: body.data || body.items || [], nextCursor: body.next_cursor || null };
}

/** DELETE one stored classification (and its audio). */
export async function deleteClassification(id) {
  const response = await apiFetch(`${API}/classifications/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (!response.ok) throw problemFromResponse(response.status, await response.text());
}

/**
 * Upload a file with progress. `onProgress(fraction)` gets 0..1 while the bytes go up, then
 * `onUploaded()` once they are all sent (the server is analysing).
 * @returns {{promise: Promise<object>, abort: () => void}}
 */
export function uploadFile(file, { onProgress = () => {}, onUploaded = () => {} } = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", `${API}/classify`);
    xhr.setRequestHeader("Accept", "application/json");
    const key = currentKey();
    if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    xhr.upload.addEventListener("load", () => onUploaded());
    xhr.addEventListener("load", () => {
      if (xhr.status === 401) announceUnauthorized(key);
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError("Bad answer", "The server sent something that is not JSON.", xhr.status));
        }
      } else {
        reject(problemFromResponse(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After")));
      }
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError("Upload failed", "The connection closed before the server answered. The file may be larger than the server accepts.", 0)),
    );
    xhr.addEventListener("abort", () => reject(new CancelledError()));
    const form = new FormData();
    form.append("file", file, file.name || "upload");
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/**
 * Classify a link (direct audio file or a page yt-dlp understands).
 * @returns {{promise: Promise<object>, abort: () => void}}
 */
export function classifyUrl(url) {
  const controller = new AbortController();
  const promise = getJson(`${API}/classify/url`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ url }),
    signal: controller.signal,
  });
  return { promise, abort: () => controller.abort() };
}
