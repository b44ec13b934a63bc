"""extract_learnings: record the finished turn, count its topics, and learn from it in the background."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.events import emit
from graph.services import Services
from graph.state import SenaContext, SenaState
from nodes import last_user_text
from storage.conversations import TurnRecord


async def extract_learnings(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Append the turn to the conversation log and start learning from it in the background.

    Learning (facts, preferences, events, relationships into long-term memory) runs after
    the answer is out; the next turn on this thread waits for it only if it is still running.
    """
    if runtime.context.replay:
        return {}  # a replay re-examines a past turn: it must not learn from it or log it twice
    text = last_user_text(state)
    intent = state.get("intent")
    intent_type = intent["intent_type"] if intent else None
    learner = services.learner
    if (
        learner is not None
        and not state.get("errors")
        and learner.submit(
            runtime.context.thread(), runtime.context.user_id, text, intent_type, state.get("answer") or ""
        )
    ):
        emit(runtime, "learning_started", node="extract_learnings")
    if services.topics is not None and intent_type != "greeting":
        await asyncio.to_thread(services.topics.observe, runtime.context.user_id, text)
    if services.log is None:
        return {}
    record = TurnRecord(
        thread_id=runtime.context.thread(),
        user_input=text,
        response=state.get("answer") or "",
        intent=intent_type,
        model_used=state.get("model_used") or None,
        processing_ms=round(sum((state.get("timings") or {}).values()), 3),
        extensions_used=tuple(r["name"] for r in state.get("extension_results") or [] if r["ok"]),
        memories_used=tuple(state.get("recent_ids") or []),
        errors=tuple(dict(e) for e in state.get("errors") or []),
    )
    await asyncio.to_thread(services.log.record_turn, record)
    return {}
