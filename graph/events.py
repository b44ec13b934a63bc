"""Node-level events on the `custom` stream: node_start / node_end / node_error and tokens.

This is the feed `sena chat --verbose` prints and the SSE debug endpoint carries. Each
event is a flat dict with an `event` name, the node, the thread and a wall-clock stamp.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime

from graph.recording import CallSite, call_site
from graph.state import SenaContext, SenaState, last_user_message

log = logging.getLogger(__name__)

NodeFn = Callable[[SenaState, Runtime[SenaContext]], Awaitable[dict[str, Any]]]


def emit(runtime: Runtime[SenaContext], event: str, **fields: Any) -> None:
    """Write one event to the run's custom stream (a no-op when nobody streams it)."""
    runtime.stream_writer({"event": event, "thread_id": runtime.context.thread(), "ts": time.time(), **fields})


def summarize(update: dict[str, Any]) -> str:
    """Describe a node's update in a few words for the event feed."""
    parts = []
    if intent := update.get("intent"):
        parts.append(f"intent={intent['intent_type']} via {intent['source']} ({intent['confidence']:.2f})")
    if plan := update.get("memory_plan"):
        parts.append(f"memory={'yes' if plan['use_short_term'] or plan['use_long_term'] else 'no'}: {plan['reason']}")
    if update.get("recent_ids"):
        parts.append(f"{len(update['recent_ids'])} recent messages")
    if snippets := update.get("snippets"):
        facts = sum(s["source"] == "long_term" for s in snippets)
        parts.append(f"{facts} memories")
        if exchanges := len(snippets) - facts:
            parts.append(f"{exchanges} past exchanges")
    if results := update.get("extension_results"):
        parts.append("extensions: " + ", ".join(f"{r['name']}={'ok' if r['ok'] else 'failed'}" for r in results))
    if model := update.get("model_used"):
        parts.append(f"model={model}")
    return "; ".join(parts)


def turn_key(state: SenaState) -> str:
    """The id of the user's message that opened this turn: what a turn's recordings are keyed by."""
    message = last_user_message(state)
    return str(message.id) if message is not None else ""


def instrument(name: str, fn: NodeFn, *, opens_turn: bool = False) -> NodeFn:
    """Wrap a node so it reports start, end (with timing) and errors, and records its timing.

    Errors are re-raised for the node's error handler (see graph/recovery.py) to decide.
    `opens_turn` marks the first node of a turn, which starts a fresh timing table.
    """

    async def node(state: SenaState, runtime: Runtime[SenaContext]) -> dict[str, Any]:
        emit(runtime, "node_start", node=name)
        started = time.perf_counter()
        site = CallSite(turn_key(state), name, runtime.context.thread(), runtime.context.replay or "record")
        try:
            with call_site(site):
                update = await fn(state, runtime)
        except Exception as exc:
            elapsed = (time.perf_counter() - started) * 1000
            emit(runtime, "node_error", node=name, duration_ms=elapsed, error=type(exc).__name__, message=str(exc))
            log.warning("node %s failed after %.0f ms: %s", name, elapsed, exc)
            raise
        elapsed = (time.perf_counter() - started) * 1000
        prior = {} if opens_turn else dict(state.get("timings") or {})
        update["timings"] = {**prior, name: round(elapsed, 3)}
        emit(runtime, "node_end", node=name, duration_ms=elapsed, summary=summarize(update))
        for divergence in site.divergences:
            emit(runtime, "replay_divergence", node=name, message=divergence)
        return update

    node.__name__ = name
    node.__qualname__ = name
    return node
