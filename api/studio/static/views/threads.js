// Threads: every conversation with its title, tags and status; search across what was said.
import {api, esc, html, say, section, when} from "../common.js";

const body = section("Threads", "threads");
body.appendChild(html(`<form class="row" id="search">
  <label class="sr-only" for="q">Search</label><input id="q" class="grow" type="search" placeholder="Search titles, tags and what was said">
  <label for="status-filter">status</label><select id="status-filter"><option value="">any</option><option>active</option><option>archived</option></select>
  <button type="submit">Search</button></form>`));
const table = body.appendChild(html(`<div id="thread-list"></div>`));

async function load() {
  const q = document.getElementById("q").value.trim();
  try {
    const rows = await api("/threads", {query: {q, status: document.getElementById("status-filter").value}});
    if (!rows.length) { table.replaceChildren(html(`<p class="muted">No thread${q ? " matches" : " yet"}.</p>`)); return; }
    table.replaceChildren(html(`<table><thead><tr><th>Thread</th><th>Title</th><th>Tags</th><th>Status</th><th>Turns</th><th>Last used</th></tr></thead>
      <tbody>${rows.map((t) => `<tr><td><a href="/studio/threads/${encodeURIComponent(t.thread_id)}">${esc(t.thread_id)}</a></td>
        <td>${esc(t.title || "")}</td><td>${t.tags.map((g) => `<span class="pill">${esc(g)}</span>`).join(" ")}</td>
        <td>${esc(t.status)}</td><td>${t.turns}</td><td class="muted">${esc(when(t.updated_at))}</td></tr>`).join("")}</tbody></table>`));
  } catch (error) { say(table, error); }
}

document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); load(); });
load();
