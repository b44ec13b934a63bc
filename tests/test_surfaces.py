"""One scripted conversation through every surface: the local chat, the remote chat (the same
commands over a served API) and the API itself behave the same, because they share one turn
policy (`Sena.turn`), one command table (cli/commands.py) and one model switch (`Sena.switch_model`).

Each surface gets its own fresh data folder and scripted models, so their outcomes can be
compared: the two chats' screens must be identical, and the API must give the same facts.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from rich.console import Console

from api.background import free_port
from cli.chat import LocalFront
from cli.client import SenaClient
from cli.commands import ChatFront, TurnView, dispatch, greet
from cli.remote import RemoteFront
from cli.serve import serving
from config.settings import Settings, load_settings
from graph.builder import make_builder
from graph.services import Services
from graph.session import Sena, open_sena
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedModels
from tests.helpers import run_turn
from tests.test_turn_policy import gated_models

pytestmark = pytest.mark.slow

SURFACES = ("local", "remote", "api")
SEEDED = "The user's cat is called Miso"


def fresh_settings(folder: Path) -> Settings:
    return load_settings(
        app={"data_dir": folder},
        llm={"embedded": {"models_dir": MODELS_DIR}, "switch_cooldown_s": 600},
        api={"port": free_port()},
    )


def scripted() -> ScriptedModels:
    models = ScriptedModels()
    models.model("other").enqueue("The other model answers.")
    return models


@asynccontextmanager
async def surface(kind: str, sena: Sena, thread: str) -> AsyncIterator[tuple[ChatFront | None, SenaClient | None]]:
    """A chat front for the two chats (a local one, or a remote one on this Sena's served API),
    and an API client for all but the local chat."""
    out = Console(file=io.StringIO(), width=200, color_system=None)
    if kind == "local":
        yield LocalFront(sena, thread, TurnView(out)), None
        return
    async with serving(sena, out) as url:
        assert url is not None
        async with SenaClient(url) as client:
            yield (RemoteFront(client, thread, TurnView(out)) if kind == "remote" else None), client


def screen(front: ChatFront) -> str:
    text = front.view.out.file.getvalue()  # type: ignore[attr-defined]
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)


async def conversation(kind: str, sena: Sena) -> tuple[list[Any], str]:
    """The script: models, a turn, a switch, a refused switch, a turn on the new model, memory
    listed, searched and forgotten. Returns what each step gave (as facts) and the chat's screen."""
    memory = sena.services.memory
    assert memory is not None
    seeded = await asyncio.to_thread(memory.add, SEEDED, sena.services.settings.app.user_id)
    facts: list[Any] = []
    async with surface(kind, sena, "s") as (front, client):
        if front is not None:
            for line in ("/model", "hello there", "/model fast other", "/model fast main", "hello again",
                         "/memory", "/memory search cat", f"/memory forget {seeded.id}", "/memory"):  # fmt: skip
                if line.startswith("/"):
                    await dispatch(front, line)
                else:
                    await front.turn(line)
            facts = [m.text for m in await sena.messages("s")]
            return facts, screen(front)
        assert client is not None
        http = client.http
        await http.get("/api/v1/models")
        await http.post("/api/v1/chat", json={"message": "hello there", "thread_id": "s"})
        switched = await http.put("/api/v1/models/fast", json={"model": "other"})
        refused = await http.put("/api/v1/models/fast", json={"model": "main"})
        answer = (await http.post("/api/v1/chat", json={"message": "hello again", "thread_id": "s"})).json()
        listed = (await http.get("/api/v1/memory")).json()
        found = (await http.get("/api/v1/memory/search", params={"q": "cat"})).json()
        await http.delete(f"/api/v1/memory/{seeded.id}")
        after = (await http.get("/api/v1/memory")).json()
        facts = [m.text for m in await sena.messages("s")]
        extra = [switched.json()["model"], refused.status_code, answer["model_used"], answer["answer"]]
        return [*facts, extra, [m["text"] for m in listed], [m["text"] for m in found], after], ""


async def test_the_same_conversation_behaves_the_same_on_every_surface(tmp_path: Path) -> None:
    results: dict[str, tuple[list[Any], str]] = {}
    for kind in SURFACES:
        async with open_sena(fresh_settings(tmp_path / kind), models=scripted()) as sena:
            results[kind] = await conversation(kind, sena)
    local, remote, api = results["local"], results["remote"], results["api"]
    assert local[1] == remote[1]  # the two chats: the same screen, word for word
    transcript = ["hello there", "echo: hello there", "hello again", "The other model answers."]
    assert local[0] == remote[0] == transcript
    assert api[0][:4] == transcript
    assert api[0][4][:3] == ["embedded:other", 429, "embedded:other"]
    assert api[0][5] == api[0][6] == [SEEDED] and api[0][7] == []
    shown = local[1]
    assert "fast      embedded:main" in shown and "fast -> embedded:other" in shown
    assert "fast was switched moments ago" in shown  # the cooldown, as the API's 429 says
    assert f"- {SEEDED} <id>" in shown and "Forgot <id>." in shown and shown.rstrip().endswith("No memories.")


async def interrupt(settings: Settings, thread: str, question: str) -> None:
    """Leave `thread` with a turn stopped right before `generate`, as if the process was killed there."""
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.database_path)) as saver:
        graph = make_builder(Services(settings=settings, models=scripted())).compile(
            checkpointer=saver, interrupt_before=["generate"]
        )
        await run_turn(graph, thread, question)


@pytest.mark.parametrize("kind", SURFACES)
async def test_a_turn_cut_short_by_a_kill_is_finished_first_on_every_surface(kind: str, tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path)
    await interrupt(settings, "k", "why is the sky blue?")
    async with open_sena(settings, models=scripted()) as sena, surface(kind, sena, "k") as (front, client):
        if front is not None:
            await greet(front)
            await front.turn("and the sea?")
            shown = screen(front)
            assert shown.index("finishing it first") < shown.index("echo: why is the sky blue?")
            assert shown.index("echo: why is the sky blue?") < shown.index("echo: and the sea?")
        else:
            assert client is not None
            done = (await client.http.post("/api/v1/chat", json={"message": "and the sea?", "thread_id": "k"})).json()
            assert done["answer"] == "echo: and the sea?"
        assert [m.text for m in await sena.messages("k")] == [
            "why is the sky blue?", "echo: why is the sky blue?", "and the sea?", "echo: and the sea?"
        ]  # fmt: skip


@pytest.mark.parametrize("kind", SURFACES)
async def test_a_second_turn_on_the_thread_is_queued_on_every_surface(kind: str, tmp_path: Path) -> None:
    models, gate = gated_models()
    async with open_sena(fresh_settings(tmp_path), models=models) as sena, surface(kind, sena, "q") as pair:
        front, client = pair
        first: asyncio.Task[Any]
        second: asyncio.Task[Any]
        if front is not None:
            first = asyncio.create_task(front.turn("first question"))
            await asyncio.sleep(0.5)
            second = asyncio.create_task(front.turn("second question"))
        else:
            assert client is not None
            post = client.http.post
            first = asyncio.create_task(post("/api/v1/chat", json={"message": "first question", "thread_id": "q"}))
            await asyncio.sleep(0.5)
            second = asyncio.create_task(post("/api/v1/chat", json={"message": "second question", "thread_id": "q"}))
        await asyncio.sleep(0.5)
        assert not first.done() and not second.done()
        gate.set()
        results = await asyncio.gather(first, second)
        if front is not None:
            assert "yours comes next" in screen(front)
        else:
            assert [r.json()["answer"] for r in results if isinstance(r, httpx.Response)] == [
                "echo: first question", "echo: second question"
            ]  # fmt: skip
        assert [m.text for m in await sena.messages("q")] == [
            "first question", "echo: first question", "second question", "echo: second question"
        ]  # fmt: skip
