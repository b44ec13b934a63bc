"""The six-node graph with a scripted model, over both checkpointers."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver

from config.settings import Settings
from graph.builder import build_graph
from graph.services import Services
from storage.conversation_log import ConversationLog
from tests.fakes import ScriptedMemory, ScriptedModels, router_reply
from tests.helpers import answer_text, nodes_run, run_turn


def make(settings: Settings, models: ScriptedModels, checkpointer: Any, log: bool = False) -> Any:
    conv = ConversationLog.from_path(settings.database_path) if log else None
    return build_graph(Services(settings=settings, models=models, log=conv), checkpointer)


async def test_greeting_skips_retrieve_and_extensions(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    models.model("main").enqueue("Hi! How can I help?")
    graph = make(settings, models, checkpointer)
    events = await run_turn(graph, "t", "hello")
    assert nodes_run(events) == ["classify_intent", "decide_memory", "generate", "extract_learnings"]
    assert answer_text(events) == "Hi! How can I help?"
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["intent"]["intent_type"] == "greeting"
    assert state.values["memory_plan"]["reason"] == "greeting"
    assert set(state.values["timings"]) == {"classify_intent", "decide_memory", "generate", "extract_learnings"}


async def test_recall_runs_retrieve_and_feeds_history_to_the_model(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    main = models.model("main").enqueue("Noted.", "You said cats are great.")
    graph = make(settings, models, checkpointer)
    await run_turn(graph, "t", "I think cats are great")
    events = await run_turn(graph, "t", "what did I say earlier about cats?")
    assert "retrieve" in nodes_run(events)
    prompt = main.prompts[-1]
    assert [type(m) for m in prompt[1:]] == [HumanMessage, AIMessage, HumanMessage]
    assert prompt[1].text == "I think cats are great"
    assert prompt[-1].text == "what did I say earlier about cats?"


async def test_unsure_rules_ask_the_router_model(settings: Settings, checkpointer: BaseCheckpointSaver[Any]) -> None:
    models = ScriptedModels(by_role={"router": "router"})
    models.model("router").enqueue(router_reply("creative", 0.8))
    models.model("main").enqueue("A poem.")
    settings.intent_routing.examples_threshold = 1.0  # the example classifier is never sure enough
    graph = make(settings, models, checkpointer)
    await run_turn(graph, "t", "roses and violets for my aunt")
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["intent"]["intent_type"] == "creative"
    assert state.values["intent"]["source"] == "router"
    assert state.values["intent"]["recommended_model"] == "critical"


async def test_model_failure_retries_then_answers_with_fallback(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    models.model("main").enqueue(ConnectionError("refused"), ConnectionError("refused"))
    models.model("fallback").enqueue("Answer from the fallback.")
    graph = make(settings, models, checkpointer)
    events = await run_turn(graph, "t", "why is the sky blue?")
    assert answer_text(events) == "Answer from the fallback."
    assert [e["node"] for e in events if e["event"] == "node_error"] == ["generate", "generate"]
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["model_used"] == "embedded:fallback"
    assert state.values["errors"][0]["node"] == "generate"
    assert isinstance(state.values["messages"][-1], AIMessage)
    assert state.next == ()


async def test_model_failure_without_fallback_says_what_is_wrong(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue(ValueError("model exploded"))
    graph = make(settings, models, checkpointer, log=True)
    events = await run_turn(graph, "t", "why is the sky blue?")
    answer = answer_text(events)
    assert answer.startswith("Sorry, I could not answer")
    assert "model exploded" in answer
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["messages"][0].text == "why is the sky blue?"
    log = ConversationLog.from_path(settings.database_path)
    assert log.turns("t")[0].errors[0]["node"] == "generate"


async def test_a_failing_step_is_skipped_and_recorded(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any], monkeypatch: Any
) -> None:
    import nodes.retrieve

    def broken(*args: Any) -> list[str]:
        raise RuntimeError("buffer unavailable")

    monkeypatch.setattr(nodes.retrieve, "recent_message_ids", broken)
    models.model("main").enqueue("Still answered.")
    graph = make(settings, models, checkpointer)
    events = await run_turn(graph, "t", "what did I say earlier?")
    assert answer_text(events) == "Still answered."
    assert [e["node"] for e in events if e["event"] == "recovered"] == ["retrieve"]
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    [error] = state.values["errors"]
    assert error["node"] == "retrieve" and error["error"] == "RuntimeError" and error["kind"] == "memory"
    assert error["message"].startswith("buffer unavailable") and "sena doctor" in error["message"]


async def test_required_extension_missing_is_reported_to_the_model(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    main = models.model("main").enqueue("I cannot check that yet.")
    graph = make(settings, models, checkpointer)
    events = await run_turn(graph, "t", "how much disk space is free?")
    assert "run_extensions" in nodes_run(events)
    assert "system_info extension is not installed" in main.prompts[-1][-1].text


async def test_per_turn_state_is_reset_between_turns(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    models.model("main").enqueue(ConnectionError("x"), ConnectionError("x"))
    graph = make(settings, models, checkpointer)
    await run_turn(graph, "t", "how much disk space is free?")
    await run_turn(graph, "t", "hello")
    values = (await graph.aget_state({"configurable": {"thread_id": "t"}})).values
    assert values["errors"] == []
    assert values["extension_results"] == []
    assert "run_extensions" not in values["timings"]
    assert len(values["messages"]) == 4


async def test_turn_is_logged(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    graph = make(settings, models, checkpointer, log=True)
    await run_turn(graph, "t1", "hello there")
    log = ConversationLog.from_path(settings.database_path)
    [turn] = log.turns("t1")
    assert (turn.user_input, turn.response, turn.intent) == ("hello there", "echo: hello there", "greeting")
    assert log.threads()[0].thread_id == "t1"


async def test_long_term_memories_reach_the_prompt(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    memory = ScriptedMemory(["The user's sister Lena lives in Porto"])
    main = models.model("main").enqueue("Lena lives in Porto.")
    services = Services(settings=settings, models=models, memory=memory)  # type: ignore[arg-type]
    graph = build_graph(services, checkpointer)
    events = await run_turn(graph, "t", "where does Lena live?", user_id="u7")
    assert memory.queries == [("where does Lena live?", "u7")]
    assert "Lena lives in Porto" in main.prompts[-1][-1].text
    assert [e["hits"][0]["id"] for e in events if e["event"] == "memory_search"] == ["m0"]
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["snippets"][0]["source"] == "long_term"


async def test_a_question_about_the_user_gets_the_closest_memories_however_far(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    memory = ScriptedMemory(["The user's name is Noor"])
    models.model("main").enqueue("You are Noor.", "Lena lives in Porto.")
    graph = build_graph(Services(settings=settings, models=models, memory=memory), checkpointer)  # type: ignore[arg-type]
    await run_turn(graph, "t", "What should you call me?")
    await run_turn(graph, "t", "where does Lena live?")
    assert memory.thresholds == [0.0, None]  # the configured threshold for anything else


async def test_a_failing_memory_store_degrades_to_short_term(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    memory = ScriptedMemory(error=RuntimeError("qdrant is down"))
    main = models.model("main").enqueue("First.", "Still here.")
    graph = build_graph(Services(settings=settings, models=models, memory=memory), checkpointer)  # type: ignore[arg-type]
    await run_turn(graph, "t", "I like trains")
    events = await run_turn(graph, "t", "what did I say earlier?")
    assert answer_text(events) == "Still here."
    assert main.prompts[-1][1].text == "I like trains"  # short-term still used
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    [error] = state.values["errors"]
    assert error["kind"] == "memory"
    assert error["message"] == "Memory search failed: qdrant is down This answer uses recent messages only."
    assert [e["strategy"] for e in events if e["event"] == "recovered"] == ["skip memory"]


async def test_recall_of_a_discussion_brings_past_exchanges_but_not_this_threads_recent_ones(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    import time

    from memory.exchanges import Exchange

    now = time.time()
    exchanges = [
        Exchange("x1", "User: plan the Lisbon trip\nSena: Alfama first.", 0.7, "old-thread", now - 86400 * 3),
        Exchange("x2", "User: trip budget?\nSena: 800 euros.", 0.6, "t", now),  # this thread, still recent
    ]
    memory = ScriptedMemory(exchanges=exchanges)
    main = models.model("main").enqueue("We planned Lisbon.")
    graph = build_graph(Services(settings=settings, models=models, memory=memory), checkpointer)  # type: ignore[arg-type]
    events = await run_turn(graph, "t", "what did we discuss about the trip?")
    [search] = [e for e in events if e["event"] == "memory_search"]
    assert [(h["id"], h["source"]) for h in search["hits"]] == [("x1", "conversation")]
    context = main.prompts[-1][-1].text  # the context rides in the user's message, before the question
    assert "Earlier exchanges between us" in context and "Alfama first." in context
    assert context.endswith("My message: what did we discuss about the trip?")
    assert "800 euros" not in context


async def test_a_plain_question_does_not_search_past_exchanges(
    settings: Settings, models: ScriptedModels, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    memory = ScriptedMemory(["The user likes tea"])
    graph = build_graph(Services(settings=settings, models=models, memory=memory), checkpointer)  # type: ignore[arg-type]
    await run_turn(graph, "t", "Why is the sky blue?")
    assert memory.queries and memory.conversations.queries == []
