// Extensions: the list (origin, status, runs, errors, grants), each one's source and run history,
// enable, disable and reload one by one, and a generate form that shows every attempt live.
import {api, esc, feed, html, ms, say, section, when} from "../common.js";

const listBox = section("Extensions", "extension-list", ` <button id="reload-all">reload all</button>`);
const detail = section("Extension", "extension-detail");
detail.appendChild(html(`<p class="muted">Choose an extension to see its source and runs.</p>`));
const gen = section("Generate an extension", "generate");
gen.appendChild(html(`<form id="generate-form">
  <label for="description">What should it do? The code model writes it, Sena validates and tests it in the sandbox, and retries with the errors.</label>
  <div class="row"><input id="description" class="grow" minlength="5" maxlength="1000" placeholder="e.g. count the vowels in a text">
  <label for="attempts">attempts</label><input id="attempts" type="number" min="1" max="5" value="3" size="3">
  <button class="primary" type="submit">Generate</button></div></form>`));
const attempts = gen.appendChild(html(`<div id="attempts-list"></div>`));

async function load() {
  try {
    const rows = await api("/extensions");
    listBox.replaceChildren(html(`<table><thead><tr><th>Name</th><th>Origin</th><th>Status</th><th>Runs</th><th>Errors</th><th>Asks for</th><th>Granted</th><th></th></tr></thead><tbody>
      ${rows.map((r) => `<tr data-name="${esc(r.name)}"><td><a href="#" data-act="show">${esc(r.name)}</a><div class="muted">${esc(r.description || "")}</div></td>
        <td>${esc(r.origin)}</td><td class="state-${r.status === "active" ? "active" : r.status === "error" ? "error" : "disabled"}">${esc(r.disabled ? "disabled" : r.status)}${r.last_error ? `<div class="muted">${esc(r.last_error)}</div>` : ""}</td>
        <td>${r.executions}</td><td>${r.errors}</td><td>${esc(r.permissions.join(", ") || "nothing")}</td><td>${esc(r.grants.join(", ") || "—")}</td>
        <td><button data-act="toggle" data-on="${r.status !== "active"}" ${r.status === "error" ? "disabled" : ""}>${r.status === "active" ? "disable" : "enable"}</button>
        <button data-act="reload">reload</button></td></tr>`).join("")}</tbody></table>`));
  } catch (error) { say(listBox, error); }
}

async function show(name) {
  try {
    const [source, runs] = await Promise.all([
      fetch(`/api/v1/extensions/${encodeURIComponent(name)}/source`, {credentials: "same-origin"}).then((r) => r.ok ? r.text() : Promise.reject(new Error(`source: HTTP ${r.status}`))),
      api(`/extensions/${encodeURIComponent(name)}/runs`),
    ]);
    detail.replaceChildren(html(`<div><h3>${esc(name)}: source</h3><pre class="mono" id="source">${esc(source)}</pre>
      <h3>Runs (last 7 days)</h3>${runs.length ? `<table><thead><tr><th>When</th><th>Result</th><th>Time</th><th>Thread</th></tr></thead><tbody>
      ${runs.map((r) => `<tr><td>${esc(when(r.ts))}</td><td class="${r.ok ? "state-ok" : "state-error"}">${r.ok ? "ok" : "failed"}</td><td>${ms(r.ms)}</td><td>${esc(r.thread_id || "")}</td></tr>`).join("")}</tbody></table>` : `<p class="muted">No run in a turn yet.</p>`}</div>`));
  } catch (error) { say(detail, error); }
}

listBox.addEventListener("click", async (e) => {
  const target = e.target.closest("[data-act]");
  if (!target) return;
  e.preventDefault();
  const name = target.closest("tr").dataset.name;
  try {
    if (target.dataset.act === "show") return show(name);
    if (target.dataset.act === "toggle") await api(`/extensions/${encodeURIComponent(name)}/toggle`, {method: "PUT", body: {enabled: target.dataset.on === "true"}});
    if (target.dataset.act === "reload") await api("/extensions/reload", {method: "POST", body: {name}});
    load();
  } catch (error) { say(detail, error); }
});
document.getElementById("reload-all").onclick = async () => { try { await api("/extensions/reload", {method: "POST", body: {}}); load(); } catch (error) { say(listBox, error); } };

document.getElementById("generate-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const description = document.getElementById("description").value.trim();
  const button = e.target.querySelector("button");
  button.disabled = true;
  attempts.replaceChildren(html(`<p class="muted">Asking the code model… each attempt appears here as it finishes.</p>`));
  try {
    const r = await api("/extensions/generate", {method: "POST", body: {description, attempts: Number(document.getElementById("attempts").value)}});
    attempts.appendChild(html(`<p class="${r.status === "success" ? "state-ok" : "state-error"}"><b>${esc(r.status)}</b> after ${r.attempts} attempt(s)${r.name ? `: <a href="#" data-name="${esc(r.name)}">${esc(r.name)}</a> is registered` : ""}.</p>`));
    load();
  } catch (error) { say(attempts, error); }
  button.disabled = false;
});
attempts.addEventListener("click", (e) => { const a = e.target.closest("a[data-name]"); if (a) { e.preventDefault(); show(a.dataset.name); } });

feed({level: "WARNING", on: (kind, d) => {
  if (kind === "generation_planned") attempts.appendChild(html(`<p>Planned <b>${esc(d.name)}</b>(${esc(d.signature)}), up to ${d.attempts} attempt(s).</p>`));
  if (kind === "generation_attempt") attempts.appendChild(html(`<details ${d.status === "success" ? "" : "open"}><summary>attempt ${d.attempt}: <span class="${d.status === "success" ? "state-ok" : "state-error"}">${esc(d.status)}</span></summary>
    ${d.error ? `<pre class="error">${esc(d.error)}</pre>` : ""}${d.outputs ? `<h3>Test outputs</h3><pre>${esc(d.outputs.join("\n"))}</pre>` : ""}<h3>Code</h3><pre class="mono">${esc(d.code || "")}</pre></details>`));
  if (kind.startsWith("extension_")) load();
}});
load();
