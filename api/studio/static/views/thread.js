// One thread: its turns (paged, newest page first), its branches, and export.
import {api, args, download, esc, html, ms, say, section, view} from "../common.js";

const thread = args.thread_id;
const PAGE = 20;
let offset = 0;
view.querySelector("h1").textContent = `Thread ${thread}`;

const top = section("Turns", "turns", ` <span class="muted" id="page-label"></span>
  <button id="older">older</button><button id="newer" disabled>newer</button>
  <button id="export-md">export Markdown</button><button id="export-json">export JSON</button>`);
const branches = section("Branches", "branches");

async function loadTurns() {
  try {
    const turns = await api(`/threads/${encodeURIComponent(thread)}/turns`, {query: {limit: PAGE, offset}});
    document.getElementById("newer").disabled = offset === 0;
    document.getElementById("older").disabled = turns.length < PAGE;
    document.getElementById("page-label").textContent = turns.length ? `turns ${turns[0].turn}–${turns[turns.length - 1].turn}` : "";
    if (!turns.length) { top.replaceChildren(html(`<p class="muted">No turns on this page.</p>`)); return; }
    top.replaceChildren(html(`<table><thead><tr><th>#</th><th>Message</th><th>Intent</th><th>Model</th><th>Time</th><th>State</th></tr></thead>
      <tbody>${turns.slice().reverse().map((t) => `<tr><td><a href="/studio/threads/${encodeURIComponent(thread)}/turns/${t.turn}">${t.turn}</a></td>
        <td>${esc(t.message)}</td><td>${esc(t.intent || "")}</td><td class="muted">${esc(t.model || "")}</td><td>${ms(t.duration_ms)}</td>
        <td class="${t.errors ? "state-error" : t.complete ? "state-done" : "state-running"}">${t.compacted ? "compacted" : t.errors ? `${t.errors} error(s)` : t.complete ? "complete" : "interrupted"}</td></tr>`).join("")}</tbody></table>`));
  } catch (error) { say(top, error); }
}

async function loadBranches() {
  try {
    const rows = await api(`/threads/${encodeURIComponent(thread)}/branches`);
    branches.replaceChildren(html(`<table><thead><tr><th>Head</th><th>Last message</th><th>Answer</th><th></th></tr></thead>
      <tbody>${rows.map((b) => `<tr><td class="mono">${esc(b.head.slice(0, 13))}</td><td>${esc(b.last_message)}</td>
      <td class="muted">${esc(b.answer)}</td><td>${b.current ? `<span class="pill state-active">current</span>` : ""}</td></tr>`).join("")}</tbody></table>`));
  } catch (error) { say(branches, error); }
}

async function exported(format) {
  const response = await fetch(`/api/v1/threads/${encodeURIComponent(thread)}/export?format=${format}`, {credentials: "same-origin"});
  if (!response.ok) { say(top, new Error(`Export failed (${response.status})`)); return; }
  download(`${thread}.${format === "json" ? "json" : "md"}`, await response.text(), format === "json" ? "application/json" : "text/markdown");
}

document.getElementById("older").onclick = () => { offset += PAGE; loadTurns(); };
document.getElementById("newer").onclick = () => { offset = Math.max(0, offset - PAGE); loadTurns(); };
document.getElementById("export-md").onclick = () => exported("markdown");
document.getElementById("export-json").onclick = () => exported("json");
loadTurns();
loadBranches();
