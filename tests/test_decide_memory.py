"""decide_memory beyond the heuristics: learned topics, and the router model for ambiguous questions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from config.settings import Settings
from graph.builder import build_graph
from graph.services import Services
from storage.topics import TopicStore, topics_of
from tests.fakes import ScriptedMemory, ScriptedModels
from tests.helpers import nodes_run, run_turn


def services(settings: Settings, models: ScriptedModels, topics: TopicStore | None = None) -> Services:
    settings.intent_routing.use_router_model = False  # intents by rules only: the router here decides memory
    return Services(settings=settings, models=models, memory=ScriptedMemory(), topics=topics)  # type: ignore[arg-type]


async def plan_of(graph: Any, thread: str) -> dict[str, Any]:
    state = await graph.aget_state({"configurable": {"thread_id": thread}})
    return dict(state.values["memory_plan"])


def test_topics_are_content_words_with_plurals_folded() -> None:
    assert topics_of("How are my marathons going, and Lena's plans?") == {"marathon", "lena", "plan"}
    assert topics_of("hi there, ok") == set()


def test_topic_counts_persist_and_only_frequent_topics_return(tmp_path: Path) -> None:
    store = TopicStore.from_path(tmp_path / "sena.db")
    for text in ["Training for the marathon", "Marathon shoes are pricey", "marathons again", "gardening"]:
        store.observe("u1", text)
    store.close()
    reopened = TopicStore.from_path(tmp_path / "sena.db")
    assert [(t.topic, t.mentions) for t in reopened.returning("u1", "best marathon gels?", 3)] == [("marathon", 3)]
    assert reopened.returning("u1", "gardening tips?", 3) == []
    assert reopened.returning("u2", "best marathon gels?", 1) == []  # per user


async def test_a_question_on_a_returning_topic_retrieves(settings: Settings, tmp_path: Path) -> None:
    models = ScriptedModels(by_role={"router": "router"})
    topics = TopicStore.from_path(tmp_path / "topics.db")
    graph = build_graph(services(settings, models, topics), InMemorySaver())
    for i, text in enumerate(["I booked the Lisbon marathon.", "My marathon shoes arrived.", "The marathon is close."]):
        await run_turn(graph, f"t{i}", text)
    events = await run_turn(graph, "t9", "search for marathon gels near my flat")  # web_search: no memory by intent
    assert "retrieve" in nodes_run(events)
    assert (await plan_of(graph, "t9"))["reason"] == "returning topic: marathon (3x)"
    assert models.model("router").prompts == []  # topics decided it; no model call


async def test_ambiguous_question_is_decided_by_the_router_model(settings: Settings) -> None:
    models = ScriptedModels(by_role={"router": "router"})
    models.model("router").enqueue(json.dumps({"needs_memory": True}), json.dumps({"needs_memory": False}))
    graph = build_graph(services(settings, models), InMemorySaver())
    events = await run_turn(graph, "a", "search for a gym near my flat")
    assert "retrieve" in nodes_run(events)
    assert (await plan_of(graph, "a"))["reason"] == "model: personal context helps"
    events = await run_turn(graph, "b", "search the web for my horoscope")
    assert "retrieve" not in nodes_run(events)
    assert (await plan_of(graph, "b"))["reason"] == "model: self-contained"


async def test_a_failing_decision_model_retrieves_and_says_why(settings: Settings) -> None:
    models = ScriptedModels(by_role={"router": "router"})
    models.model("router").enqueue(ConnectionError("ollama is down"))
    graph = build_graph(services(settings, models), InMemorySaver())
    events = await run_turn(graph, "a", "search for a gym near my flat")
    assert "retrieve" in nodes_run(events)
    assert (await plan_of(graph, "a"))["reason"] == "unsure, and the model failed (ConnectionError): retrieving"


async def test_unsure_without_the_model_retrieves(settings: Settings) -> None:
    settings.memory.ask_model_when_unsure = False
    models = ScriptedModels(by_role={"router": "router"})
    graph = build_graph(services(settings, models), InMemorySaver())
    await run_turn(graph, "a", "search for a gym near my flat")
    assert (await plan_of(graph, "a"))["reason"] == "unsure: a question about the user"
    assert models.model("router").prompts == []
