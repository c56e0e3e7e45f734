// "Wrong genre?": on a result page (#/r/<id>), an editor picks the right genre and sends it to
// POST /api/v1/classifications/{id}/feedback. The panel is added to the result card by this
// module alone; a key without the editor role gets the server's refusal shown in the panel.
// Nothing is preselected (the editor chooses), genres read as on the rest of the page, and a
// sent correction can be taken back (DELETE, "Undo").

import { API, apiFetch, getClassification, resultIdFromHash } from "./api.js";
import { genreTitle } from "./format.js";

let panel = null;

function build() {
  panel = document.createElement("section");
  panel.className = "feedback";
  panel.setAttribute("aria-labelledby", "feedback-title");
  const title = document.createElement("h3");
  title.id = "feedback-title";
  title.className = "section-title";
  title.textContent = "Wrong genre?";
  const form = document.createElement("form");
  form.className = "feedback-form";
  const label = document.createElement("label");
  label.htmlFor = "feedback-genre";
  label.textContent = "The right genre";
  const select = document.createElement("select");
  select.id = "feedback-genre";
  select.className = "select";
  select.required = true;
  const send = document.createElement("button");
  send.type = "submit";
  send.className = "button button-small";
  send.textContent = "Send correction";
  send.disabled = true;
  const status = document.createElement("p");
  status.className = "muted feedback-status";
  status.setAttribute("role", "status");
  const undo = document.createElement("button");
  undo.type = "button";
  undo.id = "feedback-undo";
  undo.className = "button button-small button-quiet";
  undo.textContent = "Undo";
  undo.hidden = true;
  form.append(label, select, send);
  panel.append(title, form, status, undo);
  select.addEventListener("change", () => {
    send.disabled = !select.value;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (select.value) submit(panel.dataset.id, select.value, status, undo);
  });
  undo.addEventListener("click", () => withdraw(panel.dataset.id, status, undo, select, send));
  return panel;
}

async function submit(id, genre, status, undo) {
  status.textContent = "Sending…";
  undo.hidden = true;
  try {
    const response = await apiFetch(`${API}/classifications/${encodeURIComponent(id)}/feedback`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ genre }),
    });
    const body = await response.json().catch(() => ({}));
    status.textContent = response.ok
      ? `Thanks: marked as ${genreTitle(body.genre)}. Retraining will learn from it.`
      : body.detail || `The correction was refused (HTTP ${response.status}).`;
    undo.hidden = !response.ok;
  } catch {
    status.textContent = "The server cannot be reached.";
  }
}

async function withdraw(id, status, undo, select, send) {
  status.textContent = "Taking the correction back…";
  try {
    const response = await apiFetch(`${API}/classifications/${encodeURIComponent(id)}/feedback`, { method: "DELETE" });
    const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (response.ok) {
      status.textContent = "Correction taken back.";
      undo.hidden = true;
      select.value = "";
      send.disabled = true;
    } else {
      status.textContent = body.detail || `The correction could not be taken back (HTTP ${response.status}).`;
    }
  } catch {
    status.textContent = "The server cannot be reached.";
  }
}

async function show() {
  const id = resultIdFromHash(window.location.hash);
  const result = document.getElementById("result");
  if (id === null || !result) {
    if (panel) panel.hidden = true;
    return;
  }
  let body;
  try {
    body = await getClassification(id);
  } catch {
    return; // the result view reports the failure
  }
  if (!panel) result.append(build());
  panel.dataset.id = id;
  panel.hidden = false;
  const select = panel.querySelector("select");
  const placeholder = document.createElement("option");
  placeholder.value = "";
  placeholder.textContent = "Choose…";
  const predicted = body.genres && body.genres.length ? body.genres[0].genre : null;
  const others = (body.genres || []).filter((g) => g.genre !== predicted);
  others.sort((a, b) => genreTitle(a.genre).localeCompare(genreTitle(b.genre)));
  select.replaceChildren(
    placeholder,
    ...others.map((g) => {
      const option = document.createElement("option");
      option.value = g.genre;
      option.textContent = genreTitle(g.genre);
      return option;
    }),
  );
  select.value = "";
  panel.querySelector("button[type=submit]").disabled = true;
  panel.querySelector("#feedback-undo").hidden = true;
  panel.querySelector(".feedback-status").textContent = "";
}

window.addEventListener("hashchange", show);
show();
