"""retrieve: gather the context the memory plan asked for (the short-term buffer for now)."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from graph.services import Services
from graph.state import SenaContext, SenaState


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


async def retrieve(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Select the short-term buffer: the thread's recent messages, by count and age."""
    memory = services.settings.memory
    plan = state.get("memory_plan")
    if plan is not None and not plan["use_short_term"]:
        return {"recent_ids": []}
    ids = recent_message_ids(state, memory.short_term_messages, memory.short_term_max_age_s, time.time())
    return {"recent_ids": ids}
