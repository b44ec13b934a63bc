"""decide_memory: decide whether this turn needs memory, and record why."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graph.services import Services
from graph.state import MemoryPlan, SenaContext, SenaState, last_user_text

log = logging.getLogger(__name__)

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
ABOUT_USER = re.compile(r"\b(i|me|my|mine|i'm|i've|i'd|i'll|myself|we|us|our|ours|we're|we've)\b", re.IGNORECASE)
"""The user, or the user with their family ("what city do we call home")."""
ASKING = re.compile(
    r"\?\s*$|^\W*(what|which|who|whom|whose|where|when|why|how|should|could|would|can|do|does|is|are"
    r"|recommend|suggest|help|plan|remind|find|search|look|show|tell|give|pick|choose)\b",
    re.IGNORECASE,
)

QUESTION = re.compile(
    r"\?\s*$|^\W*(what|what's|whats|which|who|whom|whose|where|when|how|do you know|remind me|tell me)\b",
    re.IGNORECASE,
)

DECISION_SCHEMA: dict[str, Any] = {
    "title": "MemoryDecision",
    "type": "object",
    "properties": {"needs_memory": {"type": "boolean"}},
    "required": ["needs_memory"],
}


def plan(use: bool, reason: str, conversations: bool = False) -> MemoryPlan:
    return MemoryPlan(use_short_term=use, use_long_term=use, use_conversations=use and conversations, reason=reason)


def plan_memory(text: str, intent_type: str, intent_needs_memory: bool) -> MemoryPlan | None:
    """Apply the heuristics in order; None when they cannot tell (an ambiguous message).

    Greetings never; recall phrases, time references and dangling pronouns always; a question
    about the user ("what should you call me?") always, whatever its intent; then the intent's
    own need. A request about the user that no rule covers is ambiguous; anything else (a
    standalone fact, a self-contained question) needs no memory.
    """
    if intent_type == "greeting":
        return plan(False, "greeting")
    if RECALL.search(text):
        return plan(True, "recall phrase", conversations=True)
    if TEMPORAL.search(text):
        return plan(True, "temporal reference", conversations=True)
    if DANGLING.search(text):
        return plan(True, "pronoun without antecedent")
    if ABOUT_USER.search(text) and QUESTION.search(text):
        return plan(True, "a question about the user")  # "what should you call me?" is answered from memory
    if intent_needs_memory:
        return plan(True, "intent needs context")
    if ABOUT_USER.search(text) and ASKING.search(text):
        return None
    return plan(False, "intent is self-contained")


def decision_prompt(text: str) -> list[Any]:
    return [
        SystemMessage(
            "You decide whether an assistant should look up what it remembers about the user "
            "(their preferences, people, plans, past conversations) before answering. Answer JSON: "
            '{"needs_memory": true} if remembered facts about this user could change the answer, '
            'else {"needs_memory": false}.'
        ),
        HumanMessage(text),
    ]


async def ask_model(text: str, runtime: Runtime[SenaContext], services: Services) -> MemoryPlan:
    """Let the router model decide an ambiguous message; without a model, retrieve to be safe."""
    try:
        choice = services.models.choose("router", runtime.context.model_overrides.get("router"))
        model = services.chat_model(choice).with_structured_output(DECISION_SCHEMA, method="json_schema")
        decision: Any = await model.ainvoke(decision_prompt(text), config={"tags": ["nostream"]})
        use = bool(decision["needs_memory"])
    except Exception as exc:  # a failing model must not fail the turn: retrieval is the safe side
        log.warning("memory decision model failed: %s", exc)
        return plan(True, f"unsure, and the model failed ({type(exc).__name__}): retrieving")
    return plan(use, f"model: {'personal context helps' if use else 'self-contained'}")


async def decide_memory(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Choose the memory plan for this turn: heuristics, then learned topics, then the model."""
    memory = services.settings.memory
    text = last_user_text(state)
    intent = state.get("intent")
    intent_type = intent["intent_type"] if intent else "conversation"
    decided = plan_memory(text, intent_type, intent["needs_memory"] if intent else True)
    asking = intent_type != "greeting" and ASKING.search(text) is not None
    if (decided is None or not decided["use_long_term"]) and asking and services.topics is not None:
        found = await asyncio.to_thread(
            services.topics.returning, runtime.context.user_id, text, memory.topic_min_mentions
        )
        if found:
            named = ", ".join(f"{t.topic} ({t.mentions}x)" for t in found[:3])
            decided = plan(True, f"returning topic: {named}")
    if decided is None:
        decided = (
            await ask_model(text, runtime, services)
            if memory.ask_model_when_unsure
            else plan(True, "unsure: a question about the user")
        )
    return {"memory_plan": decided}
