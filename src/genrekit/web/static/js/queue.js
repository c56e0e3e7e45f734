// Upload queue: many files (or a dropped folder) classified one after the other, each with
// its own progress and its result linked as soon as it arrives.

import { ApiError, CancelledError, resultHash, uploadFile } from "./api.js";
import { el } from "./dom.js";
import { formatPercent, formatSize, genreTitle } from "./format.js";

const AUDIO_EXTENSIONS = /\.(mp3|wav|flac|ogg|oga|opus|m4a|aac|aif|aiff|aifc|wma|webm|mka|mp4|caf|au|amr|3gp)$/i;

/** Whether a file found in a dropped folder looks like audio (by type or name). */
export function looksLikeAudio(file) {
  return (file.type || "").startsWith("audio/") || AUDIO_EXTENSIONS.test(file.name || "");
}

function readEntries(reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

async function filesOfEntry(entry) {
  if (entry.isFile) return [await new Promise((resolve, reject) => entry.file(resolve, reject))];
  if (!entry.isDirectory) return [];
  const reader = entry.createReader();
  const files = [];
  for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
    for (const child of batch) files.push(...(await filesOfEntry(child)));
  }
  return files.filter(looksLikeAudio);
}

/** The files of a drop: plain files as given, folders walked for their audio files. */
export async function droppedFiles(dataTransfer) {
  const entries = Array.from(dataTransfer.items || [])
    .map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null))
    .filter(Boolean);
  if (!entries.length || !entries.some((entry) => entry.isDirectory)) return Array.from(dataTransfer.files || []);
  const files = [];
  for (const entry of entries) files.push(...(await filesOfEntry(entry)));
  return files;
}

export class UploadQueue {
  /**
   * @param {HTMLOListElement} list where the queue is shown
   * @param {{maxBytes: () => number, onResult: (result: object, file: File, first: boolean) => void, onStatus: (text: string) => void, onBusy?: (busy: boolean) => void}} callbacks
   *   onBusy: told when the queue starts working and when everything in it is done
   */
  constructor(list, { maxBytes, onResult, onStatus, onBusy = () => {} }) {
    this.list = list;
    this.maxBytes = maxBytes;
    this.onResult = onResult;
    this.onStatus = onStatus;
    this.onBusy = onBusy;
    this.waiting = [];
    this.current = null;
    this.shownFirst = false;
  }

  get busy() {
    return Boolean(this.current) || this.waiting.length > 0;
  }

  /** Queue files; they are classified in order, one at a time. */
  add(files) {
    if (!this.busy) {
      this.list.replaceChildren();
      this.shownFirst = false;
    }
    for (const file of files) this.waiting.push(this.row(file));
    this.list.hidden = false;
    this.onBusy(true);
    this.onStatus(`${files.length} file${files.length === 1 ? "" : "s"} queued.`);
    if (!this.current) this.next();
  }

  /** Cancel the running upload and drop the waiting ones. */
  cancel() {
    for (const item of this.waiting) this.finish(item, "Cancelled", "is-cancelled");
    this.waiting = [];
    if (this.current && this.current.job) this.current.job.abort();
  }

  row(file) {
    const status = el("span", { className: "queue-status" }, "Waiting");
    const bar = el("progress", { max: 100, value: 0, "aria-label": `Progress of ${file.name || "upload"}` });
    const li = el("li", { className: "queue-item" }, el("span", { className: "queue-name", title: file.name || "" }, file.name || "upload"), status, bar);
    this.list.append(li);
    return { file, li, status, bar, job: null };
  }

  finish(item, text, className) {
    item.status.textContent = text;
    item.li.classList.add(className);
    item.bar.value = 100;
  }

  async next() {
    const item = this.waiting.shift();
    this.current = item || null;
    if (!item) {
      this.onBusy(false);
      return;
    }
    const { file } = item;
    const limit = this.maxBytes();
    if (!file.size) {
      this.finish(item, "Empty file", "is-error");
    } else if (limit && file.size > limit) {
      this.finish(item, `Too large (${formatSize(file.size)}; the limit is ${formatSize(limit)})`, "is-error");
    } else {
      item.status.textContent = "Uploading… 0%";
      item.job = uploadFile(file, {
        onProgress: (fraction) => {
          item.bar.value = Math.round(fraction * 90);
          item.status.textContent = `Uploading… ${Math.round(fraction * 100)}%`;
        },
        onUploaded: () => {
          item.bar.removeAttribute("value");
          item.status.textContent = "Analysing…";
        },
      });
      try {
        const result = await item.job.promise;
        const top = (result.genres || [])[0];
        const link = el("a", { href: resultHash(result.id) }, top ? `${genreTitle(top.genre)} ${formatPercent(top.score)}` : "Done");
        this.finish(item, "", "is-done");
        item.status.append(link);
        this.onResult(result, file, !this.shownFirst);
        this.shownFirst = true;
      } catch (error) {
        if (error instanceof CancelledError) this.finish(item, "Cancelled", "is-cancelled");
        else this.finish(item, error instanceof ApiError ? `${error.title}: ${error.detail}` : String(error), "is-error");
      }
    }
    const left = this.waiting.length;
    if (left) this.onStatus(`${left} file${left === 1 ? "" : "s"} left in the queue.`);
    this.next();
  }
}
