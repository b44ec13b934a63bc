"""run_extensions in the graph: a scripted model fills parameters, the real sandbox runs the extension."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from config.settings import Settings, load_settings
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from graph.builder import build_graph
from graph.services import Services
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedModels
from tests.helpers import answer_text, nodes_run, run_turn


@pytest.fixture
def node_settings(tmp_path: Path) -> Settings:
    settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": tmp_path / "user", "workspace": tmp_path / "ws", "max_consecutive_failures": 2},
    )
    settings.intent_routing.use_router_model = False
    return settings


@pytest.fixture
def host(node_settings: Settings) -> Iterator[SandboxHost]:
    user = node_settings.extensions.user_dir
    user.mkdir(parents=True)
    (user / "flaky.py").write_text(
        "VERSION = '1'\nMETADATA = {'name': 'flaky', 'description': 'always fails', 'author': 'tests'}\n"
        "def execute(user_input, context, **kwargs):\n    raise ValueError('flaky is broken')\n"
    )
    h = SandboxHost(node_settings, ExtensionRegistry.from_path(node_settings.database_path))
    h.load_all()
    yield h
    h.close()


def graph_for(settings: Settings, models: ScriptedModels, host: SandboxHost) -> object:
    return build_graph(Services(settings=settings, models=models, extensions=host), InMemorySaver())


async def test_system_info_runs_in_the_sandbox_and_reaches_the_prompt(
    node_settings: Settings, host: SandboxHost
) -> None:
    models = ScriptedModels()
    main = models.model("main").enqueue("You have plenty of space.")
    graph = graph_for(node_settings, models, host)
    events = await run_turn(graph, "t", "how much disk space is left?")
    assert "run_extensions" in nodes_run(events)
    [run] = [e for e in events if e["event"] == "extension_run"]
    assert (run["name"], run["ok"]) == ("system_info", True)
    assert "Disk:" in main.prompts[-1][-1].text and "Results from Sena's extensions" in main.prompts[-1][-1].text
    assert answer_text(events) == "You have plenty of space."


async def test_parameters_come_from_the_router_model_as_json(node_settings: Settings, host: SandboxHost) -> None:
    (node_settings.workspace_dir / "notes").mkdir(parents=True)
    (node_settings.workspace_dir / "notes" / "todo.txt").write_text("buy milk")
    models = ScriptedModels(by_role={"router": "router"})
    router = models.model("router").enqueue(json.dumps({"action": "read", "path": "notes/todo.txt"}))
    graph = graph_for(node_settings, models, host)
    await run_turn(graph, "t", "read the file notes/todo.txt")
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})  # type: ignore[attr-defined]
    [result] = state.values["extension_results"]
    assert (result["name"], result["ok"], result["output"]) == ("file_manager", True, "buy milk")
    assert "file_manager" in router.prompts[0][0].text  # the schema prompt named the tool


async def test_a_failing_extension_degrades_the_turn_then_gets_disabled(
    node_settings: Settings, host: SandboxHost
) -> None:
    models = ScriptedModels()
    graph = graph_for(node_settings, models, host)
    first = await run_turn(graph, "t", "hello there", extensions=("flaky",))  # asked for by name: /ext flaky
    assert answer_text(first)  # the turn still answered
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})  # type: ignore[attr-defined]
    assert "flaky is broken" in state.values["extension_results"][0]["output"]
    second = await run_turn(graph, "t", "hello again", extensions=("flaky",))
    [disabled] = [e for e in second if e["event"] == "extension_disabled"]
    assert "has been disabled" in disabled["message"] and "sena extensions enable flaky" in disabled["message"]
    assert "flaky" not in host.names()
