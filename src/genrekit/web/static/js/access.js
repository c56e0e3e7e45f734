// API keys in the browser: the key form. On a server in key mode every API call needs
// "Authorization: Bearer <key>"; api.js keeps the key for this tab and sends it, and announces
// each 401 ("genrekit:unauthorized"), on which this module asks for a key. Loaded before the
// page's own script so that no 401 goes unheard.

import { saveKey } from "./api.js";
import { el } from "./dom.js";

let dialog = null;

/** Show the key form (once at a time); a saved key reloads the page so every view refetches. */
export function askForKey(message = "This server needs an API key.") {
  if (dialog && dialog.open) return;
  if (!dialog) {
    const input = el("input", { id: "key-input", className: "text-input", type: "password", autocomplete: "off", required: true });
    const form = el(
      "form",
      { method: "dialog" },
      el("h2", { id: "key-dialog-title", className: "section-title" }, "API key"),
      el("p", { className: "muted key-dialog-note" }),
      el("label", { htmlFor: "key-input" }, "Key (gk_…), kept in this tab only"),
      input,
      el("button", { className: "button button-primary", type: "submit" }, "Use this key"),
    );
    dialog = el("dialog", { className: "card key-dialog", "aria-labelledby": "key-dialog-title" }, form);
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
