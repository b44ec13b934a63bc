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
from graph.state import TURN_RESET, IntentRecord, SenaContext, SenaState
from nodes import last_user_text
from nodes.intent_examples import ExampleIndex

log = logging.getLogger(__name__)


def intent_record(routing: IntentRoutingSettings, intent: str, confidence: float, source: Any) -> IntentRecord:
    """Build the record for `intent` from its configured route."""
    route = routing.intents.get(intent) or routing.intents.get(routing.default_intent)
    return IntentRecord(
        intent_type=intent,
        recommended_model=route.recommended_model if route else "fast",
        required_extensions=list(route.required_extensions) if route else [],
        needs_memory=route.needs_memory if route else True,
        confidence=round(confidence, 3),
        source=source,
    )


def classify_by_rules(text: str, routing: IntentRoutingSettings) -> IntentRecord | None:
    """Return the first intent whose pattern matches, or None when no rule is sure."""
    for name, route in routing.intents.items():
        if any(re.search(pattern, text, re.IGNORECASE) for pattern in route.patterns):
            return intent_record(routing, name, routing.rule_confidence, "rules")
    return None


def router_schema(routing: IntentRoutingSettings) -> dict[str, Any]:
    return {
        "title": "IntentDecision",
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": list(routing.intents)},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["intent", "confidence"],
    }


def router_prompt(text: str, routing: IntentRoutingSettings) -> list[Any]:
    catalog = "\n".join(f"- {name}: {route.description}" for name, route in routing.intents.items())
    return [
        SystemMessage(
            "Classify the user's message into exactly one intent. Intents:\n"
            f"{catalog}\nAnswer with JSON: the intent name and your confidence from 0 to 1."
        ),
        HumanMessage(text),
    ]


async def decide(
    text: str,
    routing: IntentRoutingSettings,
    router: Callable[[], Runnable[Any, Any]] | None,
    examples: ExampleIndex | None = None,
) -> IntentRecord:
    """Rules first, then likeness to the example messages; the router model (made by `router`,
    only when needed) when neither is sure."""
    record = classify_by_rules(text, routing)
    if record is None and examples is not None and text.strip():
        try:
            found = await asyncio.to_thread(examples.decide, text, routing.examples_threshold, routing.examples_margin)
        except Exception:  # the embedder failed: the router model decides, as without examples
            log.warning("comparing with the intent examples failed", exc_info=True)
            found = None
        if found is not None and found[0] in routing.intents:
            record = intent_record(routing, found[0], found[1], "examples")
    if record is None and router is not None and text.strip():
        decision: Any = await router().ainvoke(router_prompt(text, routing), config={"tags": ["nostream"]})
        intent, confidence = str(decision["intent"]), float(decision.get("confidence", 0.5))
        if intent in routing.intents and confidence >= routing.router_threshold:
            record = intent_record(routing, intent, confidence, "router")
    return record or intent_record(routing, routing.default_intent, 0.5, "default")


def structured_router(model: BaseChatModel, routing: IntentRoutingSettings) -> Runnable[Any, Any]:
    return model.with_structured_output(router_schema(routing), method="json_schema")


async def classify_intent(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Classify the newest message: rules first, the router model only when the rules are unsure.

    Also clears the previous turn's per-turn keys, since this node opens every turn.
    """
    routing = services.settings.intent_routing

    def router() -> Runnable[Any, Any]:
        choice = services.models.choose("router", runtime.context.model_overrides.get("router"))
        return structured_router(services.chat_model(choice), routing)

    record = await decide(
        last_user_text(state), routing, router if routing.use_router_model else None, services.intent_examples()
    )
    if asked := [n for n in runtime.context.extensions if n not in record["required_extensions"]]:
        record = IntentRecord(**{**record, "required_extensions": [*record["required_extensions"], *asked]})
    return {**TURN_RESET, "intent": record}
