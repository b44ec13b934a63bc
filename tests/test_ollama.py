"""The `ollama` provider for real: ChatOllama against a server speaking Ollama's wire format."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from api.background import free_port
from config.settings import Settings, load_settings
from graph.builder import build_graph
from graph.services import Services
from providers.registry import ModelRegistry, check_ollama
from tests.conftest import MODELS_DIR, SMALL_MODEL, small_model_env
from tests.helpers import answer_text, run_turn
from tests.ollama_stub import OllamaStub

pytestmark = pytest.mark.slow
STUB_MODEL = "smollm2:135m"


@pytest.fixture(scope="module")
def ollama() -> Iterator[OllamaStub]:
    settings = load_settings(llm={"embedded": {"models_dir": MODELS_DIR}})
    runtime = ModelRegistry(settings.llm, settings.models_dir).runtime(SMALL_MODEL)
    with OllamaStub(runtime, STUB_MODEL) as stub:
        yield stub
    runtime.close()


def ollama_settings(tmp_path: Path, base_url: str) -> Settings:
    roles = {
        role: {"ollama_model": STUB_MODEL, "embedded_model": SMALL_MODEL, "max_tokens": 24}
        for role in ("fast", "critical", "code", "router")
    }
    return load_settings(
        app={"data_dir": tmp_path},
        llm={
            "provider": "ollama",
            "ollama": {"base_url": base_url},
            "roles": roles,
            "embedded": {"models_dir": MODELS_DIR},
        },
    )


async def test_chat_ollama_invoke_stream_and_format(ollama: OllamaStub, tmp_path: Path) -> None:
    settings = ollama_settings(tmp_path, ollama.url)
    assert check_ollama(ollama.url) is None
    registry = ModelRegistry(settings.llm, settings.models_dir)
    choice = registry.choose("fast")
    assert choice.label == f"ollama:{STUB_MODEL}"
    model = registry.get(choice)
    assert (await model.ainvoke([HumanMessage("Say hi")])).text.strip()
    chunks = [c.text async for c in model.astream([HumanMessage("Count to five")])]
    assert len([c for c in chunks if c]) > 1
    schema = {
        "title": "Pick",
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "blue"]}},
        "required": ["color"],
    }
    picked: Any = await model.with_structured_output(schema, method="json_schema").ainvoke(
        [HumanMessage("Pick a color")]
    )
    assert picked["color"] in ("red", "blue")


async def test_a_turn_through_the_graph_on_ollama(ollama: OllamaStub, tmp_path: Path) -> None:
    settings = ollama_settings(tmp_path, ollama.url)
    registry = ModelRegistry(settings.llm, settings.models_dir)
    graph = build_graph(Services(settings=settings, models=registry))
    events = await run_turn(graph, "t", "roses and violets for my aunt")  # no rule matches: the router decides
    assert answer_text(events).strip()
    assert [e["model"] for e in events if e["event"] == "model_call"] == [f"ollama:{STUB_MODEL}"]
    assert not [e for e in events if e["event"] == "node_error"]


async def test_missing_ollama_model_says_pull_it(ollama: OllamaStub, tmp_path: Path) -> None:
    settings = ollama_settings(tmp_path, ollama.url)
    settings.llm.fallback.enabled = False
    registry = ModelRegistry(settings.llm, settings.models_dir)
    graph = build_graph(Services(settings=settings, models=registry))
    events = await run_turn(graph, "t", "hello", model_overrides={"fast": "llama9:70b"})
    assert "ollama pull llama9:70b" in answer_text(events)


def test_chat_with_ollama_down_explains_and_falls_back(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    env.update(SENA_LLM__PROVIDER="ollama", SENA_LLM__OLLAMA__BASE_URL=f"http://127.0.0.1:{free_port()}")
    result = subprocess.run(
        [sys.executable, "-m", "cli", "chat", "--thread", "down"],
        input="hello\n/exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Ollama is not reachable" in result.stdout
    assert "ollama serve" in result.stdout
    assert "fallback" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    answer = result.stdout.split("sena>")[-1].split("you>")[0].strip()
    assert answer and not answer.startswith("Sorry")  # the embedded fallback answered
