// Shared by every view: the API client, HTML escaping, small DOM helpers and the live feed.
// Requests carry the session cookie (same origin); the token never appears in a URL.

export const view = document.getElementById("view");
export const args = JSON.parse(view.dataset.args || "{}");

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}

export class ApiError extends Error {
  constructor(status, message, hint) {
    super(message);
    this.status = status;
    this.hint = hint;
  }
}

/** Call `/api/v1` + path; JSON in and out. Throws ApiError with the server's message and hint. */
export async function api(path, {method = "GET", body, query} = {}) {
  const url = new URL("/api/v1" + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.href = "/studio/login";
    throw new ApiError(401, "Signed out");
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.message || response.statusText, error.hint);
  }
  return data;
}

/** Build one element from an HTML string with one top-level element (the caller escapes what it
 * interpolates). */
export function html(markup) {
  const template = document.createElement("template");
  template.innerHTML = markup.trim();
  return template.content.firstElementChild;
}

export function section(title, id, extra = "") {
  const node = html(`<section id="${id}"><h2>${title}${extra}</h2><div class="body"></div></section>`);
  view.appendChild(node);
  return node.querySelector(".body");
}

export function say(where, error) {
  where.replaceChildren(html(`<p class="error" role="alert">${esc(error.message)}${error.hint ? ` <span class="muted">${esc(error.hint)}</span>` : ""}</p>`));
}

export function status(text) {
  document.getElementById("status").textContent = text;
}

export function when(ts) {
  if (!ts) return "";
  const date = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
  return isNaN(date) ? String(ts) : date.toLocaleString();
}

export function ms(value) {
  if (value === null || value === undefined) return "";
  return value >= 1000 ? (value / 1000).toFixed(1) + " s" : value.toFixed(value < 10 ? 1 : 0) + " ms";
}

/** Open the debug feed (SSE over the session cookie); `on(kind, data)` gets every event. */
export function feed({level = "INFO", thread = "", on}) {
  const url = new URL("/api/v1/debug/stream", location.origin);
  url.searchParams.set("level", level);
  if (thread) url.searchParams.set("thread_id", thread);
  const source = new EventSource(url, {withCredentials: true});
  source.onopen = () => status("live");
  source.onerror = () => status("reconnecting…");
  source.onmessage = (e) => on("message", JSON.parse(e.data));
  for (const kind of FEED_EVENTS) source.addEventListener(kind, (e) => on(kind, JSON.parse(e.data)));
  return source;
}

export const FEED_EVENTS = [
  "turn_queued", "turn_resumed", "turn_start", "turn_end", "turn_failed", "node_start", "node_end", "node_error",
  "recovered", "model_call", "model_error", "memory_search", "memory_error", "memory_write", "learning_started",
  "extension_run", "extension_disabled", "extension_reloaded", "extension_reload_failed", "extension_toggled",
  "extension_removed", "extensions_loaded", "confirmation_needed", "replay_divergence", "log", "token",
  "generation_planned", "generation_attempt",
];

export function download(name, text, type = "application/json") {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], {type}));
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}
