"""The Sena graph's topology: six nodes, the routes between them, and their recovery handlers.

classify_intent -> decide_memory -> [retrieve] -> [run_extensions] -> generate -> extract_learnings
"""

from __future__ import annotations

from functools import partial
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy

from graph.events import instrument
from graph.recovery import Answering, end_turn, is_transient, recover_generation, skip_step
from graph.services import Services
from graph.state import TURN_RESET, MemoryPlan, SenaContext, SenaState, intent_record
from nodes.classify_intent import classify_intent
from nodes.decide_memory import decide_memory
from nodes.extract_learnings import extract_learnings
from nodes.generate import answer_update, build_prompt, choose_model, generate, stream_answer
from nodes.retrieve import retrieve
from nodes.run_extensions import run_extensions

GRAPH_NAME = "sena"


def route_after_decide_memory(state: SenaState) -> str:
    """Retrieve when the plan wants memory; otherwise go to extensions or straight to the answer."""
    plan = state.get("memory_plan")
    if plan and (plan["use_short_term"] or plan["use_long_term"]):
        return "retrieve"
    return route_after_retrieve(state)


def route_after_retrieve(state: SenaState) -> str:
    """Run extensions only when the intent requires some."""
    intent = state.get("intent")
    return "run_extensions" if intent and intent["required_extensions"] else "generate"


def make_builder(services: Services) -> StateGraph[SenaState, SenaContext, Any, Any]:
    """Return the uncompiled graph with every node bound to `services`."""

    def node(fn: Any, name: str, opens_turn: bool = False) -> Any:
        return instrument(name, partial(fn, services=services), opens_turn=opens_turn)

    routing = services.settings.intent_routing
    default_intent = intent_record(routing, routing.default_intent, 0.0, "default")
    no_memory = MemoryPlan(
        use_short_term=True,
        use_long_term=False,
        use_conversations=False,
        reason="decide_memory failed; using recent messages",
    )
    model_retry = RetryPolicy(
        max_attempts=1 + services.settings.llm.retries, initial_interval=0.5, retry_on=is_transient
    )

    builder = StateGraph(SenaState, context_schema=SenaContext)
    builder.add_node(
        "classify_intent",
        node(classify_intent, "classify_intent", opens_turn=True),
        error_handler=skip_step(
            "classify_intent",
            route=lambda _s: "decide_memory",
            defaults={**TURN_RESET, "intent": default_intent, "timings": {}},
            where="llm",
        ),
    )
    builder.add_node(
        "decide_memory",
        node(decide_memory, "decide_memory"),
        error_handler=skip_step("decide_memory", route_after_decide_memory, {"memory_plan": no_memory}, "memory"),
    )
    builder.add_node(
        "retrieve",
        node(retrieve, "retrieve"),
        error_handler=skip_step("retrieve", route_after_retrieve, where="memory"),
    )
    builder.add_node(
        "run_extensions",
        node(run_extensions, "run_extensions"),
        error_handler=skip_step("run_extensions", lambda _s: "generate", where="extension"),
    )
    builder.add_node(
        "generate",
        node(generate, "generate"),
        retry_policy=model_retry,
        error_handler=recover_generation(services, Answering(choose_model, build_prompt, stream_answer, answer_update)),
    )
    builder.add_node(
        "extract_learnings",
        node(extract_learnings, "extract_learnings"),
        error_handler=end_turn("extract_learnings", where="memory"),
    )

    builder.add_edge(START, "classify_intent")
    builder.add_edge("classify_intent", "decide_memory")
    builder.add_conditional_edges(
        "decide_memory", route_after_decide_memory, ["retrieve", "run_extensions", "generate"]
    )
    builder.add_conditional_edges("retrieve", route_after_retrieve, ["run_extensions", "generate"])
    builder.add_edge("run_extensions", "generate")
    builder.add_edge("generate", "extract_learnings")
    builder.add_edge("extract_learnings", END)
    return builder


def build_graph(
    services: Services, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[SenaState, SenaContext, Any, Any]:
    """Compile the graph with the caller's checkpointer (None for `langgraph dev`)."""
    return make_builder(services).compile(checkpointer=checkpointer, name=GRAPH_NAME)
