// Telemetry: charts over a chosen range (uPlot, vendored), node timings, and the benchmark
// history with regressions marked.
import {api, esc, html, say, section, view, when} from "../common.js";

const RANGES = [["1 hour", 1 / 24], ["6 hours", 0.25], ["24 hours", 1], ["7 days", 7], ["30 days", 30]];
const COLORS = ["#2f6f8f", "#b3261e", "#2e7d4f", "#a76a00", "#6a4c93", "#1b998b", "#8d6e63", "#c2185b"];
const controls = section("Range", "range");
controls.appendChild(html(`<form class="row" id="range-form"><label for="days">show the last</label>
  <select id="days">${RANGES.map(([label, days]) => `<option value="${days}"${days === 1 ? " selected" : ""}>${label}</option>`).join("")}</select>
  <button type="submit">Refresh</button></form>`));
const grid = view.appendChild(html(`<div class="grid" id="charts"></div>`));
const nodes = section("Node timings", "node-timings");
const benches = section("Benchmark history", "benchmarks");

function loadUplot() {
  if (window.uPlot) return Promise.resolve();
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/studio/static/vendor/uplot-1.6.32/uPlot.min.css";
  document.head.appendChild(css);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/studio/static/vendor/uplot-1.6.32/uPlot.iife.min.js";
    script.onload = resolve;
    script.onerror = () => reject(new Error("The chart library did not load."));
    document.head.appendChild(script);
  });
}

const CHARTS = [
  ["Response time per role and model (median)", "ms", (k) => k.startsWith("response_ms|"), (k) => k.split("|").slice(1).join(" · ")],
  ["Node time (median)", "ms", (k) => k.startsWith("node_ms|"), (k) => k.split("|")[1]],
  ["Node time (p95)", "ms", (k) => k.startsWith("node_p95|"), (k) => k.split("|")[1]],
  ["Error rate by kind", "per turn", (k) => k.startsWith("errors|"), (k) => k.split("|")[1]],
  ["Extension success", "share", (k) => k === "extension_success", () => "success"],
  ["Memory latency (median)", "ms", (k) => k === "memory_search_ms" || k === "memory_write_ms", (k) => k.replace("memory_", "").replace("_ms", "")],
  ["Host load", "%", (k) => k.startsWith("host_"), (k) => k.replace("host_", "").replace("_pct", "")],
];

function box(title, unit) {
  const node = html(`<section class="chart-box"><h2>${esc(title)} <span class="muted">${esc(unit)}</span></h2><div class="chart"></div></section>`);
  grid.appendChild(node);
  return node.querySelector(".chart");
}

function draw(target, unit, t, series) {
  if (!series.length || series.every(([, values]) => values.every((v) => v === null || (v === 0 && unit === "per turn")))) {
    target.replaceChildren(html(`<p class="muted">No data in this range yet.</p>`));
    return;
  }
  const plot = new window.uPlot({
    width: Math.max(300, target.clientWidth), height: 220,
    series: [{}, ...series.map(([label], i) => ({label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: {show: true, size: 6}}))],
    axes: [{}, {label: unit, size: 60}],
    scales: {x: {time: true}},
  }, [t, ...series.map(([, values]) => values)], target);
  charts.push([plot, target]);
}

const charts = [];
window.addEventListener("resize", () => { for (const [plot, target] of charts) plot.setSize({width: Math.max(300, target.clientWidth), height: 220}); });

async function load() {
  const days = Number(document.getElementById("days").value);
  grid.replaceChildren();
  try {
    const [data] = await Promise.all([api("/telemetry/series", {query: {days, buckets: 60}}), loadUplot()]);
    charts.length = 0;
    const targets = CHARTS.map(([title, unit]) => box(title, unit));  // laid out first, so each knows its width
    CHARTS.forEach(([, unit, wanted, label], i) => {
      const keys = Object.keys(data.series).filter(wanted);
      draw(targets[i], unit, data.t, keys.map((k) => [label(k), data.series[k]]));
    });
  } catch (error) { say(grid, error); }
  try {
    const summary = await api("/telemetry/metrics", {query: {days}});
    const rows = Object.entries(summary.node_ms || {});
    nodes.replaceChildren(rows.length ? html(`<table><thead><tr><th>Node</th><th>Count</th><th>p50</th><th>p95</th></tr></thead><tbody>
      ${rows.map(([node, p]) => `<tr><td>${esc(node)}</td><td>${p.count}</td><td>${p.p50 ?? ""} ms</td><td>${p.p95 ?? ""} ms</td></tr>`).join("")}</tbody></table>`)
      : html(`<p class="muted">No turn in this range yet.</p>`));
  } catch (error) { say(nodes, error); }
  try {
    const suites = await api("/telemetry/benchmarks");
    benches.replaceChildren(suites.length ? html(`<div>${suites.map((s) => `<details ${s.regressions ? "open" : ""}><summary>${esc(s.suite)}
      <span class="muted">${s.runs.length} run(s), latest ${esc(when(s.runs[0]?.ts))}</span>
      ${s.regressions ? `<span class="pill state-error">${s.regressions} regression(s)</span>` : `<span class="pill">no regression</span>`}</summary>
      ${s.changes.length ? `<table><thead><tr><th>Metric</th><th>Before</th><th>Latest</th><th>Change</th><th></th></tr></thead><tbody>
      ${s.changes.map((c) => `<tr class="${c.regression ? "state-error" : ""}"><td class="mono">${esc(c.metric)}</td><td>${c.before}</td><td>${c.after}</td>
        <td>${c.change_pct === null ? "" : (c.change_pct > 0 ? "+" : "") + c.change_pct + " %"}</td><td>${c.regression ? `regression: ${esc(c.hint)}` : ""}</td></tr>`).join("")}</tbody></table>`
      : `<p class="muted">One run kept: nothing to compare yet.</p>`}</details>`).join("")}</div>`)
      : html(`<p class="muted">No benchmark run yet: <code>sena bench turn</code> and the other suites keep their results here.</p>`));
  } catch (error) { say(benches, error); }
}

document.getElementById("range-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
load();
