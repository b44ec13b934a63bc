// Logs: the history kept in the database, then live records as they come; search, export, auto-scroll.
import {api, esc, download, feed, html, say, section, when} from "../common.js";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const body = section("Logs", "logs");
body.appendChild(html(`<form class="row" id="log-form">
  <label for="level">level</label><select id="level">${LEVELS.map((l) => `<option${l === "INFO" ? " selected" : ""}>${l}</option>`).join("")}</select>
  <label class="sr-only" for="q">Search</label><input id="q" class="grow" type="search" placeholder="text in the message or logger">
  <label for="limit">last</label><input id="limit" type="number" value="200" min="1" max="10000" size="6">
  <button type="submit">Show</button>
  <label><input type="checkbox" id="autoscroll" checked> auto-scroll</label>
  <button type="button" id="export">export</button></form>`));
const list = body.appendChild(html(`<div id="log-list" class="feed mono" tabindex="0" aria-live="polite"></div>`));
let shown = [];
let source;

function row(r) {
  return html(`<div><span class="muted">${esc(when(r.ts || r.created))}</span> <span class="level-${esc(r.level)}">${esc(r.level)}</span> <span class="muted">${esc(r.logger)}</span> ${esc(r.message)}</div>`);
}

function add(records) {
  for (const r of records) { shown.push(r); list.appendChild(row(r)); }
  while (list.children.length > 5000) { list.firstElementChild.remove(); shown.shift(); }
  if (document.getElementById("autoscroll").checked) list.scrollTop = list.scrollHeight;
}

async function load() {
  const level = document.getElementById("level").value;
  const q = document.getElementById("q").value.trim();
  list.replaceChildren(); shown = [];
  try {
    add(await api("/debug/logs", {query: {level, q, limit: document.getElementById("limit").value}}));
    if (!shown.length) list.appendChild(html(`<div class="muted">No record at ${esc(level)} or above${q ? " with that text" : ""} yet.</div>`));
  } catch (error) { say(list, error); }
  if (source) source.close();
  const wanted = LEVELS.indexOf(level);
  source = feed({level, on: (kind, d) => {
    if (kind !== "log" || LEVELS.indexOf(d.level) < wanted) return;
    if (q && !`${d.message} ${d.logger}`.toLowerCase().includes(q.toLowerCase())) return;
    list.querySelector(".muted:only-child")?.remove();
    add([d]);
  }});
}

document.getElementById("log-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
document.getElementById("export").onclick = () =>
  download(`sena-logs-${new Date().toISOString().slice(0, 19)}.jsonl`, shown.map((r) => JSON.stringify(r)).join("\n") + "\n", "application/x-ndjson");
load();
