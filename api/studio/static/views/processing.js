// Processing: every turn live, stage by stage, as the debug feed reports it.
import {api, esc, feed, html, ms, say, section, view} from "../common.js";

const STAGES = ["classify_intent", "decide_memory", "retrieve", "run_extensions", "generate", "extract_learnings"];
const MAX_CARDS = 20;

const ask = section("Ask", "ask");
ask.appendChild(html(`<form class="row" id="ask-form">
  <label class="sr-only" for="message">Message</label>
  <input id="message" class="grow" placeholder="Ask Sena something…" autocomplete="off">
  <label for="thread">thread</label><input id="thread" value="studio" size="12" maxlength="128">
  <button class="primary" type="submit">Send</button></form>`));
ask.appendChild(html(`<p id="ask-result" class="muted">The answer and every stage appear below as they happen.</p>`));

const controls = section("Turns", "turns-section");
controls.appendChild(html(`<div class="row">
  <label for="filter">thread filter</label><input id="filter" placeholder="all threads" size="16">
  <label><input type="checkbox" id="verbose"> verbose (raw events)</label></div>`));
const cards = controls.appendChild(html(`<div id="turns"><p class="muted" id="no-turns">No turn yet: ask something, or chat in <code>sena chat</code>.</p></div>`));

const cardsByThread = new Map();

function newCard(thread, message, state = "running") {
  document.getElementById("no-turns")?.remove();
  const card = html(`<section class="turn-card ${state}" data-thread="${esc(thread)}">
    <h2><span class="pill">${esc(thread)}</span> <span class="message">${esc(message || "")}</span>
      <span class="turn-state state-${state}">${state}</span></h2><p class="muted meta"></p>
    <ol class="stages">${STAGES.map((s) => `<li data-stage="${s}"><span>${s}</span><span class="state-waiting">waiting</span></li>`).join("")}</ol>
    <div class="answer"></div><div class="raw feed" hidden></div></section>`);
  cards.prepend(card);
  while (cards.children.length > MAX_CARDS) cards.lastElementChild.remove();
  cardsByThread.set(thread, card);
  applyFilter();
  return card;
}

function card(thread) {
  return cardsByThread.get(thread) || newCard(thread, "(a turn already running)");
}

function mark(card, stage, state, text) {
  const cell = card.querySelector(`li[data-stage="${stage}"]`);
  if (cell) cell.lastElementChild.outerHTML = `<span class="state-${state}">${esc(text)}</span>`;
}

function finish(card, state, note) {
  card.classList.remove("running", "done", "failed", "recovered");
  card.classList.add(state);
  card.querySelector(".turn-state").className = `turn-state state-${state}`;
  card.querySelector(".turn-state").textContent = note || state;
}

function meta(card, text) {
  const box = card.querySelector(".meta");
  box.textContent = [box.textContent, text].filter(Boolean).join(" · ");
}

function applyFilter() {
  const wanted = document.getElementById("filter").value.trim();
  for (const c of cards.querySelectorAll(".turn-card")) c.hidden = Boolean(wanted) && c.dataset.thread !== wanted;
}

function handle(kind, d) {
  const thread = d.thread_id || "";
  if (kind === "log" || !thread) return;
  let c = cardsByThread.get(thread);
  if (kind === "turn_queued") { newCard(thread, "waiting for the thread's running turn", "running"); finish(cardsByThread.get(thread), "running", "queued"); return; }
  if (kind === "turn_resumed") { c = newCard(thread, "finishing an interrupted turn"); finish(c, "running", "resumed"); c.dataset.resumed = "1"; return; }
  if (kind === "turn_start") {
    if (!(c && c.classList.contains("running") && c.querySelector(".turn-state").textContent === "queued")) c = newCard(thread, d.message);
    else c.querySelector(".message").textContent = d.message;
    finish(c, "running", "running");
    return;
  }
  c = c || card(thread);
  if (document.getElementById("verbose").checked) {
    const raw = c.querySelector(".raw"); raw.hidden = false;
    raw.appendChild(html(`<div class="mono">${esc(kind)} ${esc(JSON.stringify(d))}</div>`));
  }
  switch (kind) {
    case "node_start": mark(c, d.node, "running", "running"); break;
    case "node_end": if (!c.querySelector(`li[data-stage="${d.node}"] .state-recovered`)) mark(c, d.node, "done", ms(d.duration_ms) + (d.summary ? " · " + d.summary : "")); break;
    case "node_error": mark(c, d.node, "error", `${d.error}: ${d.message}`); break;
    case "recovered": mark(c, d.node, "recovered", `recovered: ${d.action}`); c.dataset.recovered = "1"; break;
    case "model_call": meta(c, `${d.role} model ${d.model}`); break;
    case "model_error": meta(c, `model ${d.model} failed (${d.kind})`); c.dataset.recovered = "1"; break;
    case "extension_run": meta(c, `extension ${d.name} ${d.ok ? "ok" : "failed"} ${ms(d.ms)}`); break;
    case "memory_search": meta(c, `memory: ${(d.hits || []).length} hit(s)`); break;
    case "token": c.querySelector(".answer").textContent += d.text; break;
    case "turn_end":
      for (const s of STAGES) if (c.querySelector(`li[data-stage="${s}"] .state-waiting, li[data-stage="${s}"] .state-running`)) mark(c, s, "skipped", "skipped");
      if (d.answer && !c.querySelector(".answer").textContent) c.querySelector(".answer").textContent = d.answer;
      meta(c, `${ms(d.processing_ms)} in all${d.intent ? " · intent " + d.intent : ""}`);
      finish(c, c.dataset.recovered ? "recovered" : "done", c.dataset.recovered ? "done, recovered" : "done");
      break;
    case "turn_failed":
      for (const s of STAGES) if (c.querySelector(`li[data-stage="${s}"] .state-running`)) mark(c, s, "error", d.error);
      finish(c, "failed", `failed: ${d.message}`);
      break;
  }
}

feed({level: "WARNING", on: handle});
document.getElementById("filter").addEventListener("input", applyFilter);
document.getElementById("ask-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("message");
  const message = input.value.trim();
  if (!message) return;
  const result = document.getElementById("ask-result");
  result.className = "muted"; result.textContent = "thinking…";
  try {
    const body = await api("/chat", {method: "POST", body: {message, thread_id: document.getElementById("thread").value || "studio"}});
    result.className = ""; result.textContent = body.answer;
    input.value = "";
  } catch (error) { say(result.parentElement.appendChild(html("<div></div>")), error); result.textContent = ""; }
});
view.querySelector("h1").textContent = "Processing";
