"""decide_memory: decide whether this turn needs memory, and record why."""

from __future__ import annotations

import re
from typing import Any

from langgraph.runtime import Runtime

from graph.services import Services
from graph.state import MemoryPlan, SenaContext, SenaState
from nodes import last_user_text

RECALL = re.compile(
    r"\b(remember|recall|earlier|previously|last time|you said|i said|i told you|i mentioned"
    r"|we (discussed|talked|spoke)|as (i|we) (said|mentioned)|what did (i|we|you))\b",
    re.IGNORECASE,
)
TEMPORAL = re.compile(
    r"\b(yesterday|tonight|this (morning|afternoon|evening|week|month)|last (night|week|month|year)"
    r"|\d+ (minutes|hours|days|weeks) ago|a (minute|while|moment) ago|just now)\b",
    re.IGNORECASE,
)
DANGLING = re.compile(r"^\W*(it|that|this|they|them|he|she|those|these|there|the same)\b", re.IGNORECASE)


def plan_memory(text: str, intent_type: str, intent_needs_memory: bool) -> MemoryPlan:
    """Apply the heuristics in order: greetings never; recall, time and dangling references always."""

    def plan(use: bool, reason: str) -> MemoryPlan:
        return MemoryPlan(use_short_term=use, use_long_term=use, reason=reason)

    if intent_type == "greeting":
        return plan(False, "greeting")
    if RECALL.search(text):
        return plan(True, "recall phrase")
    if TEMPORAL.search(text):
        return plan(True, "temporal reference")
    if DANGLING.search(text):
        return plan(True, "pronoun without antecedent")
    if intent_needs_memory:
        return plan(True, "intent needs context")
    return plan(False, "intent is self-contained")


async def decide_memory(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Choose the memory plan for this turn from the message and its intent."""
    intent = state.get("intent")
    return {
        "memory_plan": plan_memory(
            last_user_text(state),
            intent["intent_type"] if intent else "conversation",
            intent["needs_memory"] if intent else True,
        )
    }
