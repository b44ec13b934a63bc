"""Fault injection: each recovery strategy in graph/recovery.py, triggered by a real failure
where one can be produced (the embedded model's context, a closed memory store, a full disk)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver

from config.errors import (
    ContextOverflow,
    DatabaseError,
    ModelError,
    SenaError,
    StorageFull,
    classify,
    turn_failure,
)
from config.settings import Settings, load_settings
from graph.builder import build_graph
from graph.services import Services
from graph.session import open_sena
from tests.conftest import MODELS_DIR, SMALL_MODEL
from tests.fakes import ScriptedModels
from tests.helpers import answer_text, fill, run_turn

OVERFLOW = ValueError("Requested tokens (5123) exceed context window of 4096")


def test_classify_maps_library_failures_to_sena_errors() -> None:
    import errno
    import sqlite3

    assert isinstance(classify(OSError(errno.ENOSPC, "No space left on device")), StorageFull)
    assert isinstance(classify(sqlite3.OperationalError("database or disk is full")), StorageFull)
    corrupt = classify(sqlite3.DatabaseError("database disk image is malformed"))
    assert isinstance(corrupt, DatabaseError) and "sena doctor" in corrupt.hint
    assert isinstance(classify(OVERFLOW, "llm"), ContextOverflow)
    assert isinstance(classify(RuntimeError("x"), "llm"), ModelError)
    denied = classify(PermissionError(13, "Permission denied", "/data/sena.db"))
    assert denied.kind == "database" and "SENA_APP__DATA_DIR" in denied.hint
    assert not classify(StorageFull("full")).recoverable and classify(OVERFLOW, "llm").recoverable
    error = SenaError("Something broke.", "Do this.")
    assert str(error) == "Something broke. Do this." and error.to_dict()["hint"] == "Do this."


async def test_a_prompt_too_long_is_answered_with_a_smaller_context_by_the_same_model(
    settings: Settings, checkpointer: BaseCheckpointSaver[Any]
) -> None:
    settings.intent_routing.use_router_model = False
    models = ScriptedModels(fallback=None)
    main = models.model("main").enqueue("First answer.", OVERFLOW, "Short answer.")
    graph = build_graph(Services(settings=settings, models=models), checkpointer)
    await run_turn(graph, "t", "tell me about trains")
    events = await run_turn(graph, "t", "and what did I ask before? " + "x" * 5000)
    assert answer_text(events) == "Short answer."
    assert [e["strategy"] for e in events if e["event"] == "recovered"] == ["smaller context"]
    retried = main.prompts[-1]
    assert len(retried) == 2 and len(retried[1].text) == 2000  # no history; the end of the message
    state = await graph.aget_state({"configurable": {"thread_id": "t"}})
    assert state.values["errors"][0]["kind"] == "llm" and state.values["model_used"] == "embedded:main"


@pytest.mark.slow
async def test_the_embedded_model_overflowing_its_context_still_answers(tmp_path: Path) -> None:
    """A real llama.cpp context overflow (a 1,024-token window and a ~1,500-token message)."""
    roles = {r: {"embedded_model": SMALL_MODEL, "max_tokens": 16} for r in ("fast", "critical", "code", "router")}
    settings = load_settings(
        app={"data_dir": tmp_path},
        llm={"embedded": {"models_dir": MODELS_DIR, "n_ctx": 1024}, "roles": roles, "fallback": {"enabled": False}},
        memory={"long_term": False},
        intent_routing={"use_router_model": False},
    )
    message = "Here is a long note about my garden. " * 160 + "What should I plant next to tomatoes?"
    async with open_sena(settings) as sena:
        events = [e async for e in sena.turn("t", message)]
        values = (await sena.state("t")).values
    assert [e["strategy"] for e in events if e["event"] == "recovered"] == ["smaller context"]
    [error] = values["errors"]
    assert error["kind"] == "llm" and "context" in error["message"]
    assert values["answer"] and not values["answer"].startswith("Sorry")
    assert values["model_used"] == f"embedded:{SMALL_MODEL}"


@pytest.mark.slow
async def test_a_memory_store_that_stops_working_is_skipped_and_the_turn_answers(tmp_path: Path) -> None:
    """The real mem0/Qdrant store, closed under a running Sena: retrieval fails, the answer comes."""
    settings = load_settings(app={"data_dir": tmp_path}, intent_routing={"use_router_model": False})
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue("You told me about your trains.")
    async with open_sena(settings, models=models) as sena:
        assert sena.services.memory is not None
        sena.services.memory.close()
        events = [e async for e in sena.turn("t", "what do you remember about my hobbies?")]
        values = (await sena.state("t")).values
    assert answer_text(events) == "You told me about your trains."
    assert "skip memory" in [e.get("strategy") for e in events if e["event"] == "recovered"]
    assert values["errors"][0]["kind"] == "memory"
    assert "recent messages only" in values["errors"][0]["message"]


async def test_a_full_disk_stops_the_turn_with_a_clear_message_and_loses_nothing(small_disk: Path) -> None:
    settings = load_settings(
        app={"data_dir": small_disk}, memory={"long_term": False}, intent_routing={"use_router_model": False}
    )
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue("Noted: you like trains.", "Welcome back.")
    async with open_sena(settings, models=models) as sena:
        [e async for e in sena.turn("t", "I like trains")]
        filler = fill(small_disk)
        with pytest.raises(Exception) as stopped:
            [e async for e in sena.turn("t", "my disk is nearly full")]
        saved = await sena.saved("t", "my disk is nearly full")
        failure = turn_failure(stopped.value, saved)
        assert isinstance(failure, StorageFull), stopped.value
        assert not saved and not await sena.interrupted("t")  # nothing half-written to resume
        assert failure.message == "The turn stopped: The disk is full (database or disk is full)."
        assert "Free some disk space" in failure.hint and "could not be saved; send it again" in failure.hint
        filler.unlink()
        [e async for e in sena.turn("t", "I freed some space")]
        texts = [m.text for m in await sena.messages("t")]
    assert texts == ["I like trains", "Noted: you like trains.", "I freed some space", "Welcome back."]
    async with open_sena(settings, models=models) as reopened:  # and the file is sound after a restart
        assert [m.text for m in await reopened.messages("t")] == texts
    integrity = await asyncio.to_thread(_integrity, settings.database_path)
    assert integrity == "ok"


def _integrity(path: Path) -> str:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_the_api_reports_a_full_disk_as_507_and_over_sse_and_keeps_the_history(small_disk: Path) -> None:
    import json

    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = load_settings(
        app={"data_dir": small_disk},
        memory={"long_term": False},
        intent_routing={"use_router_model": False},
        extensions={"watch": False},
    )
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue("Noted.", "Back again.")
    # As a real server does: the error handler's response, not the exception re-raised into the test.
    with TestClient(create_app(settings, models), raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        assert client.post("/api/v1/chat", json={"message": "I like trains", "thread_id": "d"}).status_code == 200
        filler = fill(small_disk)
        full = client.post("/api/v1/chat", json={"message": "are you there?", "thread_id": "d"})
        assert full.status_code == 507, full.text
        error = full.json()["error"]
        assert error["kind"] == "database" and "disk is full" in error["message"]
        assert "Free some disk space" in error["hint"]
        streamed = client.post("/api/v1/chat/stream", json={"message": "still there?", "thread_id": "d"})
        [data] = [line[5:] for line in streamed.text.splitlines() if line.startswith("data:") and "kind" in line]
        failure = json.loads(data)
        assert failure["error"] == "StorageFull" and "could not be saved" in failure["hint"]
        filler.unlink()
        assert client.post("/api/v1/chat", json={"message": "back", "thread_id": "d"}).status_code == 200
        history = client.get("/api/v1/chat/history", params={"thread_id": "d"}).json()
    assert [m["content"] for m in history] == ["I like trains", "Noted.", "back", "Back again."]
