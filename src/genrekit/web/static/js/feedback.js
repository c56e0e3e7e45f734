// "Wrong genre?": on a result page (#/r/<id>), an editor picks the right genre and sends it to
// POST /api/v1/classifications/{id}/feedback. The panel is added to the result card by this
// module alone; a key without the editor role gets the server's refusal shown in the panel.
// Nothing is preselected (the editor chooses), genres read as on the rest of the page, and a
// sent correction can be taken back (DELETE, "Undo").

import { API, apiFetch, getClassification, resultIdFromHash } from "./api.js";
import { el } from "./dom.js";
import { genreTitle } from "./format.js";

let panel = null;

function build() {
  const select = el("select", { id: "feedback-genre", className: "select", required: true });
  const send = el("button", { type: "submit", className: "button button-small", disabled: true }, "Send correction");
  const form = el("form", { className: "feedback-form" }, el("label", { htmlFor: "feedback-genre" }, "The right genre"), select, send);
  const status = el("p", { className: "muted feedback-status", role: "status" });
  const undo = el("button", { type: "button", id: "feedback-undo", className: "button button-small button-quiet", hidden: true }, "Undo");
  panel = el(
    "section",
    { className: "feedback", "aria-labelledby": "feedback-title" },
    el("h3", { id: "feedback-title", className: "section-title" }, "Wrong genre?"),
    form,
    status,
    undo,
  );
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
  const predicted = body.genres && body.genres.length ? body.genres[0].genre : null;
  const others = (body.genres || []).filter((g) => g.genre !== predicted);
  others.sort((a, b) => genreTitle(a.genre).localeCompare(genreTitle(b.genre)));
  select.replaceChildren(
    el("option", { value: "" }, "Choose…"),
    ...others.map((g) => el("option", { value: g.genre }, genreTitle(g.genre))),
  );
  select.value = "";
  panel.querySelector("button[type=submit]").disabled = true;
  panel.querySelector("#feedback-undo").hidden = true;
  panel.querySelector(".feedback-status").textContent = "";
}

window.addEventListener("hashchange", show);
show();
