"""extract_learnings: record the finished turn in the conversation log."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.services import Services
from graph.state import SenaContext, SenaState
from nodes import last_user_text
from storage.conversations import TurnRecord


async def extract_learnings(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Append the turn to the conversation log (learning extraction arrives with memory)."""
    if services.log is None:
        return {}
    intent = state.get("intent")
    record = TurnRecord(
        thread_id=runtime.context.thread(),
        user_input=last_user_text(state),
        response=state.get("answer") or "",
        intent=intent["intent_type"] if intent else None,
        model_used=state.get("model_used") or None,
        processing_ms=round(sum((state.get("timings") or {}).values()), 3),
        extensions_used=tuple(r["name"] for r in state.get("extension_results") or [] if r["ok"]),
        memories_used=tuple(state.get("recent_ids") or []),
        errors=tuple(dict(e) for e in state.get("errors") or []),
    )
    await asyncio.to_thread(services.log.record_turn, record)
    return {}
