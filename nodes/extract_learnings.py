"""extract_learnings: record the finished turn, count its topics, learn from it in the background,
and keep the checkpointed conversation to a window."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.runtime import Runtime

from graph.events import emit
from graph.services import Services
from graph.state import SenaContext, SenaState, beyond_window, last_user_text, window_size
from storage.conversation_log import TurnRecord


async def extract_learnings(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Append the turn to the conversation log and start learning from it in the background.

    Learning (facts, preferences, events, relationships into long-term memory) runs after
    the answer is out; the next turn on this thread waits for it only if it is still running.
    """
    if runtime.context.replay:
        return {}  # a replay re-examines a past turn: it must not learn from it or log it twice
    await log_turn(state, runtime, services)
    keep = window_size(services.settings.memory.short_term_messages)
    removals = await beyond_window(state.get("messages") or [], runtime.context.thread(), keep, services.log)
    return {"messages": removals}


async def log_turn(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> None:
    text = last_user_text(state)
    intent = state.get("intent")
    intent_type = intent["intent_type"] if intent else None
    question, answer = last_exchange(state.get("messages") or [])
    said_at = question.additional_kwargs.get("ts") if question else None
    learner = services.learner
    if (
        learner is not None
        and not state.get("errors")
        and learner.submit(
            runtime.context.thread(), runtime.context.user_id, text, intent_type, state.get("answer") or "", said_at
        )
    ):
        emit(runtime, "learning_started", node="extract_learnings")
    if services.topics is not None and intent_type != "greeting":
        await asyncio.to_thread(services.topics.observe, runtime.context.user_id, text)
    if services.log is None:
        return
    record = TurnRecord(
        thread_id=runtime.context.thread(),
        user_input=text,
        response=state.get("answer") or "",
        intent=intent_type,
        model_used=state.get("model_used") or None,
        processing_ms=round(sum((state.get("timings") or {}).values()), 3),
        extensions_used=tuple(r["name"] for r in state.get("extension_results") or [] if r["ok"]),
        memories_used=tuple(s["id"] for s in state.get("snippets") or []),  # memories and past exchanges seen
        errors=tuple(dict(e) for e in state.get("errors") or []),
        message_id=question.id if question else None,
        message_ts=question.additional_kwargs.get("ts") if question else None,
        answer_id=answer.id if answer else None,
        answer_ts=answer.additional_kwargs.get("ts") if answer else None,
    )
    await asyncio.to_thread(services.log.record_turn, record)


def last_exchange(messages: list[AnyMessage]) -> tuple[HumanMessage | None, AIMessage | None]:
    """The turn's question and, if it came after it, the answer."""
    question = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
    answer = messages[-1] if messages and isinstance(messages[-1], AIMessage) else None
    return question, answer
