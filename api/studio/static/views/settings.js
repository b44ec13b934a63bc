// Settings: the effective configuration with where each value comes from; edit with the same
// validation as at start; live settings apply at once, others are saved and wait for a restart.
import {api, esc, html, say, section} from "../common.js";

const notes = section("Changes", "changes");
const table = section("Configuration", "configuration");
let entries = [];

function shown(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function parsed(text) {
  try { return JSON.parse(text); } catch { return text; }  // a bare word is text
}

function render(filter = "") {
  const wanted = filter.toLowerCase();
  const rows = entries.filter((e) => !wanted || e.key.includes(wanted) || shown(e.value).toLowerCase().includes(wanted));
  const body = html(`<div><div class="row"><label class="sr-only" for="filter">Filter</label>
    <input id="filter" class="grow" type="search" placeholder="filter keys, e.g. memory or threshold" value="${esc(filter)}"></div>
    <table><thead><tr><th>Key</th><th>Value</th><th>Default</th><th>From</th><th>Applies</th><th></th></tr></thead><tbody>
    ${rows.map((e) => `<tr data-key="${esc(e.key)}"><td class="mono key">${esc(e.key)}</td>
      <td>${e.secret ? `<span class="muted">${esc(shown(e.value))} (secret, not shown or edited here)</span>`
        : `<input class="value mono" aria-label="${esc(e.key)}" value="${esc(shown(e.value))}" size="28">`}</td>
      <td class="muted mono clip" title="${esc(shown(e.default))}">${esc(shown(e.default))}</td><td><span class="pill">${esc(e.source)}</span></td>
      <td>${e.live ? `<span class="state-ok">live</span>` : `<span class="muted">after restart</span>`}</td>
      <td>${e.secret ? "" : `<button data-act="save">Save</button>`}</td></tr>`).join("")}</tbody></table></div>`);
  table.replaceChildren(body);
  const input = document.getElementById("filter");
  input.addEventListener("input", () => { render(input.value); document.getElementById("filter").focus(); });
}

function renderNotes(data) {
  notes.replaceChildren(html(`<div>
    ${data.restart_needed.length ? `<p class="state-recovered"><b>Restart needed</b> for: ${data.restart_needed.map((k) => `<code>${esc(k)}</code>`).join(", ")}</p>`
      : `<p class="muted">The running server uses the saved configuration.</p>`}
    <div id="message" role="status"></div>
    ${data.edits.length ? `<table><thead><tr><th>#</th><th>Key</th><th>Was</th><th>Now</th><th>File</th><th></th></tr></thead><tbody>
      ${data.edits.slice().reverse().map((e) => `<tr><td>${e.id}</td><td class="mono">${esc(e.key)}</td><td class="mono">${esc(e.old_missing ? "(not in the file)" : shown(e.old))}</td>
      <td class="mono">${esc(shown(e.value))}</td><td>${esc(e.file)}</td><td>${e.reverted ? `<span class="muted">reverted</span>` : `<button data-revert="${e.id}">Revert</button>`}</td></tr>`).join("")}</tbody></table>` : ""}</div>`));
}

async function load() {
  try {
    const data = await api("/settings");
    entries = data.entries;
    renderNotes(data);
    render(document.getElementById("filter")?.value || "");
  } catch (error) { say(table, error); }
}

function tell(text, ok = true) {
  const box = document.getElementById("message");
  if (box) box.replaceChildren(html(`<p class="${ok ? "state-ok" : "error"}">${esc(text)}</p>`));
  document.getElementById("changes").scrollIntoView({block: "start"});  // the result, and its revert button
}

table.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-act=save]");
  if (!button) return;
  const row = button.closest("tr");
  const key = row.dataset.key;
  try {
    const r = await api("/settings", {method: "PUT", body: {key, value: parsed(row.querySelector("input.value").value)}});
    await load();
    tell(r.live ? `${key} = ${shown(r.value)}: applied now, and saved in ${r.file}.` : `${key} = ${shown(r.value)}: saved in ${r.file}; it applies after a restart.`);
  } catch (error) { tell(`${key}: ${error.message}`, false); }
});
notes.addEventListener("click", async (e) => {
  const button = e.target.closest("button[data-revert]");
  if (!button) return;
  try {
    const r = await api("/settings/revert", {method: "POST", body: {edit: Number(button.dataset.revert)}});
    await load();
    tell(`${r.key} is back to ${shown(r.value)}.`);
  } catch (error) { tell(error.message, false); }
});
load();
