// API keys in the browser. On a server in key mode every API call needs
// "Authorization: Bearer <key>": this module adds the key kept for this tab (sessionStorage,
// never a cookie) to every same-origin /api/ request made with fetch or XMLHttpRequest, and
// asks for a key when the server answers 401. Loaded before main.js; touches nothing else.

const STORAGE_KEY = "genrekit.apiKey";
const API_PREFIX = "/api/";

export function currentKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || "";
  } catch {
    return "";
  }
}

function isApi(url) {
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.origin === window.location.origin && parsed.pathname.startsWith(API_PREFIX);
  } catch {
    return false;
  }
}

let dialog = null;

/** Show the key form (once at a time); a saved key reloads the page so every view refetches. */
export function askForKey(message = "This server needs an API key.") {
  if (dialog && dialog.open) return;
  if (!dialog) {
    dialog = document.createElement("dialog");
    dialog.className = "card key-dialog";
    dialog.setAttribute("aria-labelledby", "key-dialog-title");
    const form = document.createElement("form");
    form.method = "dialog";
    const title = document.createElement("h2");
    title.id = "key-dialog-title";
    title.className = "section-title";
    title.textContent = "API key";
    const note = document.createElement("p");
    note.className = "muted key-dialog-note";
    const label = document.createElement("label");
    label.htmlFor = "key-input";
    label.textContent = "Key (gk_…), kept in this tab only";
    const input = document.createElement("input");
    input.id = "key-input";
    input.className = "text-input";
    input.type = "password";
    input.autocomplete = "off";
    input.required = true;
    const save = document.createElement("button");
    save.className = "button button-primary";
    save.type = "submit";
    save.textContent = "Use this key";
    form.append(title, note, label, input, save);
    dialog.append(form);
    document.body.append(dialog);
    form.addEventListener("submit", () => {
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(STORAGE_KEY, key);
      window.location.reload();
    });
  }
  dialog.querySelector(".key-dialog-note").textContent = message;
  dialog.showModal();
}

const originalFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
  if (!isApi(url)) return originalFetch(input, init);
  const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
  const key = currentKey();
  if (key && !headers.has("Authorization")) headers.set("Authorization", `Bearer ${key}`);
  const response = await originalFetch(input, { ...init, headers });
  if (response.status === 401) askForKey(key ? "The key was refused (unknown or revoked)." : undefined);
  return response;
};

const originalOpen = XMLHttpRequest.prototype.open;
const originalSend = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.open = function open(method, url, ...rest) {
  this.genrekitApi = isApi(url);
  return originalOpen.call(this, method, url, ...rest);
};
XMLHttpRequest.prototype.send = function send(body) {
  if (this.genrekitApi) {
    const key = currentKey();
    if (key) this.setRequestHeader("Authorization", `Bearer ${key}`);
    this.addEventListener("load", () => {
      if (this.status === 401) askForKey(key ? "The key was refused (unknown or revoked)." : undefined);
    });
  }
  return originalSend.call(this, body);
};
