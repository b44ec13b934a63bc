// One turn, step by step: a timeline, each node's inputs, update, changes, errors and calls
// (the exact prompts and outputs, from the recordings), replay from any step and fork with edits.
import {api, args, esc, html, ms, say, section, view} from "../common.js";

const STAGES = ["classify_intent", "decide_memory", "retrieve", "run_extensions", "generate", "extract_learnings"];
const thread = args.thread_id;
const base = `/threads/${encodeURIComponent(thread)}`;
view.querySelector("h1").innerHTML = `<a href="/studio/threads/${encodeURIComponent(thread)}">Thread ${esc(thread)}</a> · turn ${args.turn}`;

const json = (value) => esc(JSON.stringify(value, null, 2));
const overview = section("Turn", "overview");
const timeline = section("Timeline", "timeline");
const steps = section("Steps", "steps");
const replays = section("Replays and forks", "replays");
replays.appendChild(html(`<p class="muted" id="replay-none">Replay a step (recorded: from the recordings, no model; live: the models again) or fork it with edited state; results appear here.</p>`));

function prompt(text) {
  if (text === null || text === undefined) return `<p class="muted">(not kept: recorded before prompts were)</p>`;
  try {
    const items = JSON.parse(text);
    if (Array.isArray(items)) return items.map((m) => Array.isArray(m) ? `<h3>${esc(m[0])}</h3><pre>${esc(m[1])}</pre>` : `<pre>${esc(m)}</pre>`).join("");
    return `<pre>${json(items)}</pre>`;
  } catch { return `<pre>${esc(text)}</pre>`; }
}

function changes(step, before) {
  const rows = Object.entries(step.update || {}).filter(([k]) => k !== "timings").map(([key, value]) => {
    const old = key in before ? before[key] : undefined;
    return `<tr><td class="mono">${esc(key)}</td><td><pre class="diff-old">${old === undefined ? "(unset this turn)" : json(old)}</pre></td><td><pre class="diff-new">${json(value)}</pre></td></tr>`;
  });
  return rows.length ? `<table><thead><tr><th>key</th><th>before</th><th>after</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : `<p class="muted">No change.</p>`;
}

function forkForm(step) {
  const keys = Object.keys(step.inputs).filter((k) => k !== "message");
  const fields = (keys.length ? keys : ["intent"]).map((k) => `<label class="kv"><span class="mono">${esc(k)}</span>
    <textarea name="${esc(k)}" rows="3" spellcheck="false">${esc(JSON.stringify(step.inputs[k] ?? null, null, 1))}</textarea></label>`).join("");
  return `<form class="fork" data-checkpoint="${esc(step.checkpoint_id)}"><p class="muted">Edit the state this step starts from (JSON values; an intent may be given by name, e.g. "system_info"), then fork: the turn continues on a new branch from here.</p>
    ${fields}<div class="row"><button class="primary" type="submit">Fork from ${esc(step.node)}</button></div></form>`;
}

function stepBlock(step, before) {
  const calls = (step.calls || []).map((c) => `<details><summary>${esc(c.kind)} call ${c.seq}: ${esc(c.name)}</summary>
    <h3>Given</h3>${prompt(c.prompt)}<h3>Returned</h3><pre>${esc(c.output)}</pre></details>`).join("");
  return html(`<details class="step" id="step-${esc(step.node)}" ${step.errors.length ? "open" : ""}>
    <summary>${esc(step.node)} <span class="muted">${ms(step.duration_ms)}</span>${step.errors.length ? ` <span class="state-error">${step.errors.length} error(s)</span>` : ""}</summary>
    <div class="row"><button data-replay="recorded" data-checkpoint="${esc(step.checkpoint_id)}">Replay from here (recorded)</button>
      <button data-replay="live" data-checkpoint="${esc(step.checkpoint_id)}">Replay from here (live)</button>
      <span class="muted mono">checkpoint ${esc(step.checkpoint_id.slice(0, 13))}</span></div>
    <h3>Inputs</h3><pre>${json(step.inputs)}</pre>
    <h3>Changes</h3>${changes(step, before)}
    ${step.errors.length ? `<h3>Errors</h3><pre class="error">${json(step.errors)}</pre>` : ""}
    <h3>Calls</h3>${calls || `<p class="muted">No model, extension or memory call.</p>`}
    <details><summary>Fork from this step</summary>${forkForm(step)}</details>
  </details>`);
}

function showResult(title, body) {
  document.getElementById("replay-none")?.remove();
  const result = html(`<div class="result"><h3>${title}</h3>${body}</div>`);
  replays.prepend(result);
  result.scrollIntoView({block: "start"});
}

async function replay(button) {
  const mode = button.dataset.replay;
  button.disabled = true;
  try {
    const r = await api(`${base}/replay`, {method: "POST", body: {checkpoint: button.dataset.checkpoint, mode}});
    const diff = r.changes.map((c) => `<tr><td class="mono">${esc(c.key)}</td><td><pre class="diff-old">${json(c.original)}</pre></td><td><pre class="diff-new">${json(c.replayed)}</pre></td></tr>`).join("");
    showResult(`Replay (${esc(mode)}) from ${esc(r.from_checkpoint.slice(0, 13))}: <span class="${r.identical ? "state-done" : "state-recovered"}">${r.identical ? "identical" : "differs"}</span>`,
      `<div class="kv"><span>answer</span><span class="answer">${esc(r.answer)}</span><span>original</span><span class="answer muted">${esc(r.original_answer)}</span></div>
       ${diff ? `<table><thead><tr><th>key</th><th>original</th><th>replayed</th></tr></thead><tbody>${diff}</tbody></table>` : ""}
       ${r.divergences.length ? `<pre>${esc(r.divergences.join("\n"))}</pre>` : ""}`);
  } catch (error) { showResult(`Replay (${esc(mode)}) failed`, `<p class="error">${esc(error.message)}</p><p class="muted">${esc(error.hint || "")}</p>`); }
  button.disabled = false;
}

async function fork(form) {
  const values = {};
  try {
    for (const area of form.querySelectorAll("textarea")) {
      const text = area.value.trim();
      try { values[area.name] = JSON.parse(text); } catch { values[area.name] = text; }  // a bare name is a string
    }
    const r = await api(`${base}/fork`, {method: "POST", body: {checkpoint: form.dataset.checkpoint, values}});
    showResult(`Forked: new branch ${esc(r.head.slice(0, 13))}`,
      `<p>ran ${esc(r.ran.join(" → "))}</p><p class="answer">${esc(r.answer)}</p>
       <p><a href="/studio/threads/${encodeURIComponent(thread)}">See the thread's branches</a> (${r.branches.length}).</p>`);
  } catch (error) { showResult("Fork failed", `<p class="error">${esc(error.message)}</p><p class="muted">${esc(error.hint || "")}</p>`); }
}

async function load() {
  let turn;
  try { turn = await api(`${base}/turns/${args.turn}`); } catch (error) { say(overview, error); return; }
  overview.replaceChildren(html(`<div><div class="kv">
    <span>message</span><span>${esc(turn.message)}</span>
    <span>answer</span><span class="answer">${esc(turn.answer || "")}</span>
    <span>intent</span><span>${esc(turn.intent || "")}</span>
    <span>model</span><span>${esc(turn.model || "")}</span>
    <span>time in nodes</span><span>${ms(turn.duration_ms)}</span>
    <span>state</span><span class="${turn.errors ? "state-error" : turn.complete ? "state-done" : "state-running"}">${turn.compacted ? "compacted (its steps were folded)" : turn.complete ? "complete" : "interrupted"}${turn.errors ? `, ${turn.errors} error(s)` : ""}</span>
    <span>skipped</span><span class="muted">${esc(turn.skipped.join(", ") || "none")}</span></div>
    <div class="row"><button data-replay="recorded" data-checkpoint="${esc(turn.start_checkpoint)}">Replay the whole turn (recorded)</button>
    <button data-replay="live" data-checkpoint="${esc(turn.start_checkpoint)}">Replay the whole turn (live)</button></div></div>`));

  const longest = Math.max(1, ...turn.steps.map((s) => s.duration_ms || 0));
  const ran = new Map(turn.steps.map((s) => [s.node, s]));
  const bars = html(`<div class="bars"></div>`);
  for (const node of STAGES) {
    const step = ran.get(node);
    bars.appendChild(html(`<a href="#step-${node}" class="mono">${node}</a>`));
    const bar = html(`<div class="bar ${step ? (step.errors.length ? "error" : "") : "skipped"}" title="${step ? ms(step.duration_ms) : "skipped"}"></div>`);
    bar.style.width = step ? `${Math.max(0.5, 100 * (step.duration_ms || 0) / longest)}%` : "0";
    bars.appendChild(html(`<div></div>`)).appendChild(bar);
    bars.appendChild(html(`<span class="${step ? "" : "muted"}">${step ? ms(step.duration_ms) : "skipped"}</span>`));
  }
  timeline.replaceChildren(bars);

  const before = {};
  steps.replaceChildren();
  for (const step of turn.steps) {
    Object.assign(before, step.inputs);
    steps.appendChild(stepBlock(step, {...before}));
    Object.assign(before, step.update);
  }
  if (!turn.steps.length) steps.appendChild(html(`<p class="muted">This turn was compacted: its result is kept, not its steps.</p>`));
}

view.addEventListener("click", (e) => { const b = e.target.closest("button[data-replay]"); if (b) replay(b); });
view.addEventListener("submit", (e) => { const f = e.target.closest("form.fork"); if (f) { e.preventDefault(); fork(f); } });
load();
