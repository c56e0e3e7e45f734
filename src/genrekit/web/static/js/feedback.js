// "Wrong genre?": on a result page (#/r/<id>), an editor picks the right genre and sends it to
// POST /api/v1/classifications/{id}/feedback. The panel is added to the result card by this
// module alone; a key without the editor role gets the server's refusal shown in the panel.

const API = "/api/v1";
const ROUTE = /^#\/r\/([^/?#]+)$/;

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
  const send = document.createElement("button");
  send.type = "submit";
  send.className = "button button-small";
  send.textContent = "Send correction";
  const status = document.createElement("p");
  status.className = "muted feedback-status";
  status.setAttribute("role", "status");
  form.append(label, select, send);
  panel.append(title, form, status);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(panel.dataset.id, select.value, status);
  });
  return panel;
}

async function submit(id, genre, status) {
  status.textContent = "Sending…";
  try {
    const response = await fetch(`${API}/classifications/${encodeURIComponent(id)}/feedback`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ genre }),
    });
    const body = await response.json().catch(() => ({}));
    status.textContent = response.ok
      ? `Thanks: marked as ${body.genre}. Retraining will learn from it.`
      : body.detail || `The correction was refused (HTTP ${response.status}).`;
  } catch {
    status.textContent = "The server cannot be reached.";
  }
}

async function show() {
  const match = ROUTE.exec(window.location.hash);
  const result = document.getElementById("result");
  if (!match || !result) {
    if (panel) panel.hidden = true;
    return;
  }
  const id = decodeURIComponent(match[1]);
  const response = await fetch(`${API}/classifications/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
  if (!response.ok) return;
  const body = await response.json();
  if (!panel) result.append(build());
  panel.dataset.id = id;
  panel.hidden = false;
  const select = panel.querySelector("select");
  select.replaceChildren(
    ...(body.genres || []).map((g) => {
      const option = document.createElement("option");
      option.value = g.genre;
      option.textContent = g.genre;
      return option;
    }),
  );
  if (body.genres && body.genres.length > 1) select.value = body.genres[1].genre;
  panel.querySelector(".feedback-status").textContent = "";
}

window.addEventListener("hashchange", show);
show();
