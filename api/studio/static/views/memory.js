// Memory: browse, search (with scores), add, edit, delete and each memory's history; statistics;
// a thread's short-term buffer; learning as it happens, with what each write replaced.
import {api, esc, feed, html, say, section, when} from "../common.js";

const browse = section("Memories", "memories");
browse.appendChild(html(`<form class="row" id="memory-search">
  <label class="sr-only" for="q">Search</label><input id="q" class="grow" type="search" placeholder="Search memories (empty: list the newest)">
  <button type="submit">Search</button></form>`));
const list = browse.appendChild(html(`<div id="memory-list"></div>`));
browse.appendChild(html(`<form class="row" id="memory-add">
  <label class="sr-only" for="new-text">New memory</label><input id="new-text" class="grow" placeholder="Add a memory, e.g. The user's sister Lena lives in Porto" maxlength="2000">
  <select id="new-kind" aria-label="kind"><option>fact</option><option>preference</option><option>event</option><option>relationship</option></select>
  <button class="primary" type="submit">Add</button></form>`));

const grid = document.getElementById("view").appendChild(html(`<div class="grid"></div>`));
const stats = grid.appendChild(html(`<section id="stats"><h2>Statistics</h2><div class="body"></div></section>`)).querySelector(".body");
const live = grid.appendChild(html(`<section id="learning"><h2>Learning, live</h2><div class="body feed"><div class="muted">Memory writes appear here as turns are learned from.</div></div></section>`)).querySelector(".body");
const buffer = section("Short-term buffer", "buffer");
buffer.appendChild(html(`<form class="row" id="buffer-form"><label for="buffer-thread">thread</label>
  <input id="buffer-thread" value="studio" size="16"><button type="submit">Show</button></form>`));
const bufferList = buffer.appendChild(html(`<div id="buffer-list"></div>`));

function rows(memories, scored) {
  if (!memories.length) return html(`<p class="muted">No memory found.</p>`);
  return html(`<table><thead><tr><th>Memory</th><th>Kind</th>${scored ? "<th>Score</th>" : ""}<th>Said</th><th></th></tr></thead><tbody>
    ${memories.map((m) => `<tr data-id="${esc(m.id)}"><td class="text">${esc(m.text)}</td><td>${esc(m.kind)}</td>${scored ? `<td>${m.score.toFixed(3)}</td>` : ""}
      <td class="muted">${esc(when(m.metadata?.said_at || m.updated_at || m.created_at))}</td>
      <td><button data-act="edit">edit</button> <button data-act="history">history</button> <button data-act="delete" class="danger">delete</button></td></tr>`).join("")}
    </tbody></table>`);
}

async function load() {
  const q = document.getElementById("q").value.trim();
  try {
    list.replaceChildren(rows(q ? await api("/memory/search", {query: {q, limit: 20}}) : await api("/memory", {query: {limit: 200}}), Boolean(q)));
  } catch (error) { say(list, error); }
  loadStats();
}

async function loadStats() {
  try {
    const s = await api("/memory/stats");
    stats.replaceChildren(html(`<div><p><b>${s.total}</b> ${s.total === 1 ? "memory" : "memories"}: ${Object.entries(s.by_kind).map(([k, n]) => `${n} ${esc(k)}`).join(", ") || "none yet"}</p>
      <h3>Newest</h3><ul>${s.recent.map((m) => `<li>${esc(m.text)} <span class="muted">${esc(when(m.created_at))}</span></li>`).join("") || "<li class=muted>none</li>"}</ul>
      <h3>Most used in answers</h3><ul>${s.most_used.map((m) => `<li>${esc(m.text)} <span class="pill">${m.turns} turn(s)</span></li>`).join("") || "<li class=muted>none yet</li>"}</ul></div>`));
  } catch (error) { say(stats, error); }
}

async function act(button) {
  const row = button.closest("tr");
  const id = row.dataset.id;
  try {
    if (button.dataset.act === "delete") {
      if (!confirm("Delete this memory? Its history is kept.")) return;
      await api(`/memory/${encodeURIComponent(id)}`, {method: "DELETE"});
      return load();
    }
    if (button.dataset.act === "history") {
      const items = await api(`/memory/${encodeURIComponent(id)}/history`);
      row.after(html(`<tr class="history"><td colspan="5"><table><thead><tr><th>Event</th><th>Before</th><th>After</th><th>When</th></tr></thead><tbody>
        ${items.map((h) => `<tr><td>${esc(h.event)}</td><td class="diff-old">${esc(h.old_memory || "")}</td><td class="diff-new">${esc(h.new_memory || "")}</td><td class="muted">${esc(when(h.created_at))}</td></tr>`).join("")}</tbody></table></td></tr>`));
      return;
    }
    const cell = row.querySelector(".text");
    const editor = html(`<form class="row edit"><input class="grow" maxlength="2000" aria-label="memory text"><button class="primary" type="submit">Save</button><button type="button" data-cancel>Cancel</button></form>`);
    editor.querySelector("input").value = cell.textContent;
    cell.replaceChildren(editor);
    editor.querySelector("input").focus();
    editor.querySelector("[data-cancel]").onclick = load;
    editor.onsubmit = async (e) => {
      e.preventDefault();
      try { await api("/memory/edit", {method: "POST", body: {id, text: editor.querySelector("input").value}}); load(); }
      catch (error) { say(cell, error); }
    };
  } catch (error) { say(list, error); }
}

async function loadBuffer() {
  const thread = document.getElementById("buffer-thread").value.trim();
  try {
    const messages = await api("/chat/history", {query: {thread_id: thread, limit: 10}});
    bufferList.replaceChildren(messages.length ? html(`<table><tbody>${messages.map((m) => `<tr><td class="muted">${esc(m.role)}</td><td>${esc(m.content)}</td><td class="muted">${esc(when(m.ts))}</td></tr>`).join("")}</tbody></table>`)
      : html(`<p class="muted">No message on this thread.</p>`));
  } catch (error) { say(bufferList, error); }
}

list.addEventListener("click", (e) => { const b = e.target.closest("button[data-act]"); if (b) act(b); });
document.getElementById("memory-search").addEventListener("submit", (e) => { e.preventDefault(); load(); });
document.getElementById("memory-add").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = document.getElementById("new-text").value.trim();
  if (!text) return;
  try { await api("/memory/add", {method: "POST", body: {text, kind: document.getElementById("new-kind").value}}); document.getElementById("new-text").value = ""; load(); }
  catch (error) { say(list, error); }
});
document.getElementById("buffer-form").addEventListener("submit", (e) => { e.preventDefault(); loadBuffer(); });
feed({level: "WARNING", on: (kind, d) => {
  if (!["memory_write", "learning_started", "memory_error"].includes(kind)) return;
  live.querySelector(".muted:only-child")?.remove();
  const text = kind === "memory_write" ? `<b>${esc(d.action)}</b> ${esc(d.text)}${d.replaces ? ` <span class="muted">(replaced: ${esc(d.replaces)})</span>` : ""}`
    : kind === "learning_started" ? `<span class="muted">learning from a turn on ${esc(d.thread_id)}…</span>` : `<span class="error">${esc(d.message)}</span>`;
  live.prepend(html(`<div>${text}</div>`));
  if (kind === "memory_write") loadStats();
}});
load();
loadBuffer();
