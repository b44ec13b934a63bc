"""Turns from checkpoints: inspect, recorded and live replay, fork (scripted model, both checkpointers)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from config.settings import Settings
from extensions.spec import ExtensionSpec
from graph import time_travel as T
from graph.builder import build_graph
from graph.recording import Recorder
from graph.services import Services
from graph.state import intent_record
from tests.fakes import ScriptedMemory, ScriptedModels, router_reply
from tests.helpers import run_turn


class CountingHost:
    """An extension host that answers differently every time (so only a recording can reproduce it)."""

    def __init__(self) -> None:
        self.calls = 0

    def names(self) -> list[str]:
        return ["system_info"]

    def spec(self, name: str) -> ExtensionSpec:
        return ExtensionSpec(name, "1", "d", "a", "core", Path("system_info.py"), "")

    async def run(self, name: str, user_input: str, context: Mapping[str, Any], **kwargs: Any) -> str:
        self.calls += 1
        return f"disk free: {100 - self.calls} GB"

    async def disable(self, name: str, reason: str) -> None:
        raise AssertionError("nothing here fails")


def setup(settings: Settings, checkpointer: BaseCheckpointSaver[Any]) -> tuple[Any, Services, ScriptedModels]:
    models = ScriptedModels(by_role={"router": "router"})
    services = Services(
        settings=settings, models=models, extensions=CountingHost(), recorder=Recorder.from_path(settings.database_path)
    )
    return build_graph(services, checkpointer), services, models


async def two_turns(graph: Any, models: ScriptedModels) -> list[T.Turn]:
    models.model("router").enqueue(router_reply("creative", 0.9))
    models.model("main").enqueue("Hi! How can I help?", "Roses are red.", "Plenty: 99 GB free.")
    await run_turn(graph, "t", "hello")
    await run_turn(graph, "t", "roses and violets for my aunt")  # no rule: the router model decides
    await run_turn(graph, "t", "how much disk space is left?")
    return await T.list_turns(graph, "t")


async def test_turns_list_each_node_with_timings_and_the_skipped_ones(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    graph, _, models = setup(settings, checkpointer)
    turns = await two_turns(graph, models)
    assert [t.message for t in turns] == ["hello", "roses and violets for my aunt", "how much disk space is left?"]
    greeting, _, disk = turns
    assert [s.node for s in greeting.steps] == ["classify_intent", "decide_memory", "generate", "extract_learnings"]
    assert greeting.skipped == ["retrieve", "run_extensions"]
    assert all(s.duration_ms is not None for s in greeting.steps)
    assert disk.summary()["intent"] == "system_info" and disk.complete
    generate = next(s for s in disk.steps if s.node == "generate")
    assert generate.inputs["extension_results"][0]["output"] == "disk free: 99 GB"
    assert generate.update["answer"] == "Plenty: 99 GB free."
    json.dumps(disk.detail(), default=str)  # inspect --json must serialise


async def test_recorded_replay_reproduces_the_turn_exactly_with_the_models_disabled(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    graph, services, models = setup(settings, checkpointer)
    turns = await two_turns(graph, models)
    for name in ("main", "router"):
        models.model(name).enqueue(*[RuntimeError("model disabled")] * 5)
    build = lambda saver: build_graph(services, saver)  # noqa: E731
    for turn in turns:
        for start in (turn.start_checkpoint, turn.checkpoints[1], turn.checkpoints[-2]):
            result = await T.replay(graph, build, "t", start, "recorded")
            assert result.identical and not result.divergences, (turn.index, start, result.changes)
            assert result.answer == turn.final["answer"]
    assert services.extensions.calls == 1  # type: ignore[attr-defined]  # played back, not run again
    assert len(await T.list_turns(graph, "t")) == 3  # the thread itself is untouched


async def test_live_replay_calls_the_model_again_and_shows_the_difference(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    graph, services, models = setup(settings, checkpointer)
    turns = await two_turns(graph, models)
    models.model("main").enqueue("A different answer.")
    result = await T.replay(graph, lambda s: build_graph(services, s), "t", turns[0].checkpoints[2], "live")
    assert result.answer == "A different answer."
    assert [c["key"] for c in result.changes] == ["answer"]
    assert result.changes[0]["original"] == "Hi! How can I help?"


async def test_fork_changes_a_past_intent_and_keeps_the_original_branch(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    graph, _, models = setup(settings, checkpointer)
    turns = await two_turns(graph, models)
    after_classify = turns[0].checkpoints[2]
    models.model("main").enqueue("Forked: 98 GB free.")
    record = intent_record(settings.intent_routing, "system_info", 1.0, "rules")
    _, events = await T.fork(graph, "t", after_classify, {"intent": record})
    assert [e["node"] for e in events if e["event"] == "node_end"] == [
        "decide_memory",
        "run_extensions",
        "generate",
        "extract_learnings",
    ]
    forked = await T.list_turns(graph, "t")
    assert len(forked) == 1 and forked[0].final["answer"] == "Forked: 98 GB free."  # the new branch: turn 1 redone
    branches = await T.branches(graph, "t")
    assert [b["current"] for b in branches] == [True, False]
    assert branches[1]["answer"] == "Plenty: 99 GB free."  # the original branch is still there


async def test_a_recorded_replay_sees_the_memories_the_turn_saw_even_after_memory_changed(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    memory = ScriptedMemory(["The user's cat is called Miso."])
    models = ScriptedModels(by_role={"router": "router"})
    recorder = Recorder.from_path(settings.database_path)
    services = Services(settings=settings, models=models, memory=memory, recorder=recorder)  # type: ignore[arg-type]
    graph = build_graph(services, checkpointer)
    models.model("main").enqueue("Your cat is Miso.")
    await run_turn(graph, "t", "what is my cat called?")
    [turn] = await T.list_turns(graph, "t")
    memory.texts = ["The user's cat is called Tiger."]  # the user edited the memory since
    build = lambda saver: build_graph(services, saver)  # noqa: E731
    recorded = await T.replay(graph, build, "t", turn.start_checkpoint, "recorded")
    assert recorded.identical and not recorded.divergences, recorded.changes
    assert len(memory.queries) == 1  # played back: the store was not searched again
    models.model("main").enqueue("Your cat is Tiger.")
    live = await T.replay(graph, build, "t", turn.start_checkpoint, "live")
    assert {c["key"] for c in live.changes} == {"snippets", "answer"}  # a live replay searches memory as it is now
