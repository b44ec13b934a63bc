"""classify_intent: label the user's message with an intent record from `intent_routing`."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langgraph.runtime import Runtime

from config.settings import IntentRoutingSettings
from graph.services import Services
from graph.state import TURN_RESET, IntentRecord, SenaContext, SenaState, intent_record, last_user_text
from memory.by_example import ExampleIndex
from memory.extraction import ASKS, worth_learning

log = logging.getLogger(__name__)


def example_index(services: Services) -> ExampleIndex | None:
    """The example messages to compare with, embedded on first use (None when off)."""
    if not services.settings.intent_routing.use_examples or not services.settings.intent_examples:
        return None
    if services.intent_index is None:  # numpy and the embedder load here, not at start
        embedder = getattr(services.memory, "embedder", None)
        services.intent_index = ExampleIndex(services.settings.intent_examples, embedder)
    index: ExampleIndex = services.intent_index
    return index


def classify_by_rules(text: str, routing: IntentRoutingSettings) -> IntentRecord | None:
    """Return the first intent whose pattern matches, or None when no rule is sure."""
    for name, route in routing.intents.items():
        if any(re.search(pattern, text, re.IGNORECASE) for pattern in route.patterns):
            return intent_record(routing, name, routing.rule_confidence, "rules")
    return None


def router_schema(intents: list[str]) -> dict[str, Any]:
    return {
        "title": "IntentDecision",
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": intents},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["intent", "confidence"],
    }


def router_prompt(text: str, routing: IntentRoutingSettings, intents: list[str] | None = None) -> list[Any]:
    names = intents or list(routing.intents)
    catalog = "\n".join(f"- {name}: {routing.intents[name].description}" for name in names if name in routing.intents)
    return [
        SystemMessage(
            "Classify the user's message into exactly one intent. Intents:\n"
            f"{catalog}\nAnswer with JSON: the intent name and your confidence from 0 to 1."
        ),
        HumanMessage(text),
    ]


Router = Callable[[list[str]], Runnable[Any, Any]]
"""Makes the router model, constrained to the given intents."""


TELLS, RECALLS = "personal_info", "memory_recall"


def told_nothing(record: IntentRecord, text: str, routing: IntentRoutingSettings) -> IntentRecord:
    """A message that "tells a fact about the user" but states nothing and asks is a question
    about what the user told before ("whats my lil reptile's name", "what city do we call
    home"): the classifier reads "my" as telling, so such a message is recall."""
    if record["intent_type"] != TELLS or RECALLS not in routing.intents or worth_learning(text):
        return record
    if not (text.rstrip().endswith("?") or ASKS.match(text)):
        return record
    return intent_record(routing, RECALLS, record["confidence"], record["source"])


async def decide(
    text: str,
    routing: IntentRoutingSettings,
    router: Router | None,
    examples: ExampleIndex | None = None,
) -> IntentRecord:
    """High-precision rules first, then the example classifier; when its best intent is not
    likely enough, the router model (made by `router`, only when needed) chooses among the
    classifier's top candidates. Without a router, the classifier's best guess stands."""
    record = classify_by_rules(text, routing)
    if record is not None or not text.strip():
        return record or intent_record(routing, routing.default_intent, 0.5, "default")
    return told_nothing(await learned_decision(text, routing, router, examples), text, routing)


async def learned_decision(
    text: str, routing: IntentRoutingSettings, router: Router | None, examples: ExampleIndex | None
) -> IntentRecord:
    """The example classifier, and the router model when the classifier is unsure."""
    ranked: list[tuple[str, float]] = []
    if examples is not None:
        try:
            ranked = [(i, p) for i, p in await asyncio.to_thread(examples.scores, text) if i in routing.intents]
        except Exception:  # the embedder failed: the router model decides among all intents
            log.warning("the intent classifier failed", exc_info=True)
    if ranked and ranked[0][1] >= routing.examples_threshold:
        return intent_record(routing, ranked[0][0], ranked[0][1], "examples")
    if router is not None:
        candidates = [i for i, _ in ranked[: routing.router_candidates]] or list(routing.intents)
        decision: Any = await router(candidates).ainvoke(
            router_prompt(text, routing, candidates), config={"tags": ["nostream"]}
        )
        intent, confidence = str(decision["intent"]), float(decision.get("confidence", 0.5))
        if intent in candidates and (ranked or confidence >= routing.router_threshold):
            return intent_record(routing, intent, confidence, "router")
    if ranked:
        return intent_record(routing, ranked[0][0], ranked[0][1], "examples")
    return intent_record(routing, routing.default_intent, 0.5, "default")


def structured_router(model: BaseChatModel, intents: list[str]) -> Runnable[Any, Any]:
    return model.with_structured_output(router_schema(intents), method="json_schema")


async def classify_intent(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Classify the newest message: rules, the example classifier, the router model when both are unsure.

    Also clears the previous turn's per-turn keys, since this node opens every turn.
    """
    routing = services.settings.intent_routing

    def router(intents: list[str]) -> Runnable[Any, Any]:
        choice = services.models.choose("router", runtime.context.model_overrides.get("router"))
        return structured_router(services.chat_model(choice), intents)

    record = await decide(
        last_user_text(state), routing, router if routing.use_router_model else None, example_index(services)
    )
    if asked := [n for n in runtime.context.extensions if n not in record["required_extensions"]]:
        record = IntentRecord(**{**record, "required_extensions": [*record["required_extensions"], *asked]})
    return {**TURN_RESET, "intent": record}
