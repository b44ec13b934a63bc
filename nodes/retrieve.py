"""retrieve: gather the context the memory plan asked for: recent messages and long-term memories."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from graph.events import emit
from graph.recording import digest, recorded_output
from graph.recovery import skip_memory
from graph.services import Services
from graph.state import SenaContext, SenaState, Snippet, last_user_message, last_user_text


def recent_message_ids(state: SenaState, limit: int, max_age_s: float, now: float) -> list[str]:
    """Return ids of the thread's last `limit` messages younger than `max_age_s`, oldest first.

    The newest human message is the turn's own question and is left out.
    """
    messages = [m for m in state.get("messages") or [] if isinstance(m, (HumanMessage, AIMessage))]
    if messages and isinstance(messages[-1], HumanMessage):
        messages = messages[:-1]
    fresh = [m for m in messages if now - float(m.additional_kwargs.get("ts", now)) <= max_age_s]
    window = fresh[-limit:] if limit else []
    return [m.id for m in window if m.id]


ABOUT_THE_USER = frozenset({"a question about the user", "recall phrase"})
"""decide_memory's reasons for a question whose answer can only come from memory."""


def asked_time(state: SenaState) -> float:
    """When the turn's question was asked (its message's timestamp), for "last week" and the like."""
    question = last_user_message(state)
    stamp = question.additional_kwargs.get("ts") if question is not None else None
    return float(stamp) if isinstance(stamp, (int, float)) else time.time()


async def retrieve(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Select the short-term buffer and search long-term memory.

    A failing memory store degrades the turn to short-term memory, with the error recorded.
    """
    memory = services.settings.memory
    plan = state.get("memory_plan")
    update: dict[str, Any] = {"recent_ids": [], "snippets": []}
    if plan is None or plan["use_short_term"]:
        now = time.time()
        update["recent_ids"] = recent_message_ids(state, memory.short_term_messages, memory.short_term_max_age_s, now)
    if plan is not None and plan["use_long_term"] and services.memory is not None:
        if services.learner is not None:
            await services.learner.wait(runtime.context.thread())  # the last turn's facts first
        try:
            update["snippets"] = await search_long_term(state, runtime, services, plan["use_conversations"])
        except Exception as exc:
            update.update(skip_memory(state, runtime, exc))
    return update


async def search_long_term(
    state: SenaState,
    runtime: Runtime[SenaContext],
    services: Services,
    with_conversations: bool,
) -> list[Snippet]:
    """Search remembered facts, and past exchanges when asked; emit what was found.

    The result is recorded with the turn, so a recorded replay shows what this turn saw even
    after memory has changed."""
    query, user_id = last_user_text(state), runtime.context.user_id
    started = time.perf_counter()

    async def search() -> str:
        return json.dumps(await find_snippets(state, runtime, services, with_conversations))

    call = digest([query, user_id, with_conversations])
    given = json.dumps({"query": query, "conversations": with_conversations}, ensure_ascii=False)
    found = await recorded_output(services.recorder, "memory", "memory", call, search, given)
    snippets: list[Snippet] = json.loads(found)
    emit(
        runtime,
        "memory_search",
        node="retrieve",
        query=query[:200],
        ms=round((time.perf_counter() - started) * 1000, 3),
        hits=[{"id": s["id"], "source": s["source"], "score": s["score"]} for s in snippets],
    )
    return snippets


async def find_snippets(
    state: SenaState, runtime: Runtime[SenaContext], services: Services, with_conversations: bool
) -> list[Snippet]:
    memory, settings = services.memory, services.settings.memory
    assert memory is not None
    query, user_id, thread_id = last_user_text(state), runtime.context.user_id, runtime.context.thread()
    asked_at = asked_time(state)
    plan, intent = state.get("memory_plan"), state.get("intent")
    about_user = (plan is not None and plan["reason"] in ABOUT_THE_USER) or (
        intent is not None and intent["intent_type"] == "memory_recall"
    )
    # A question about the user gets the closest memories even when none is very close: with a
    # handful of memories, "what should you call me?" is 0.197 from "The user's name is Noor".
    threshold = 0.0 if about_user else None
    found = await asyncio.to_thread(
        memory.search, query, user_id, threshold=threshold, now=datetime.fromtimestamp(asked_at)
    )
    snippets = [
        Snippet(
            id=m.id,
            source="long_term",
            text=m.text[:300],
            score=round(m.score, 4),
            date=m.said_at[:16].replace("T", " "),
        )
        for m in found
    ]
    if with_conversations and settings.conversation_limit:
        recent_cutoff = time.time() - settings.short_term_max_age_s
        exchanges = await asyncio.to_thread(
            memory.conversations.search,
            query,
            user_id,
            settings.conversation_limit,
            settings.search_threshold,
            now=asked_at,
        )
        snippets += [
            Snippet(id=x.id, source="conversation", text=x.text[:600], score=round(x.score, 4), date=x.date)
            for x in exchanges
            if not (x.thread_id == thread_id and x.ts >= recent_cutoff)  # already in the short-term buffer
        ]
    return snippets
