// API keys in the browser: the key form. On a server in key mode every API call needs
// "Authorization: Bearer <key>"; api.js keeps the key for this tab and sends it, and announces
// each 401 ("genrekit:unauthorized"), on which this module asks for a key. Loaded before the
// page's own script so that no 401 goes unheard.

import { saveKey } from "./api.js";

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
      saveKey(key);
      window.location.reload();
    });
  }
  dialog.querySelector(".key-dialog-note").textContent = message;
  dialog.showModal();
}

document.addEventListener("genrekit:unauthorized", (event) => {
  askForKey(event.detail && event.detail.refused ? "The key was refused (unknown or revoked)." : undefined);
});
