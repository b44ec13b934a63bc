"""A turn's rules, owned by `Sena.turn`: one turn at a time per thread (in a process and across
processes), an interrupted turn finished first, and the result read under the lock."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from config.settings import Settings
from graph.session import Sena, open_sena
from storage.thread_locks import PostgresThreadLocks, SqliteThreadLocks
from tests.fakes import ScriptedChatModel, ScriptedModels


class GatedModel(ScriptedChatModel):
    """Streams its answer only once `gate` is set, so a turn can be caught in the middle."""

    gate: Any = None

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        assert self.gate.wait(20), "the test never opened the gate"
        yield from super()._stream(messages, stop, run_manager, **kwargs)


def gated_models() -> tuple[ScriptedModels, threading.Event]:
    models = ScriptedModels()
    gate = threading.Event()
    models.models["main"] = GatedModel(name="main", gate=gate)
    return models, gate


async def run(sena: Sena, thread: str, text: str, log: list[tuple[str, str]]) -> dict[str, Any]:
    done: dict[str, Any] = {}
    async for event in sena.turn(thread, text):
        log.append((text, event["event"]))
        if event["event"] == "turn_end":
            done = event
    return done


async def started(log: list[tuple[str, str]], text: str) -> None:
    for _ in range(400):
        if (text, "turn_start") in log:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{text!r} never started: {log}")


def no_memory(settings: Settings) -> Settings:
    return settings.model_copy(update={"memory": settings.memory.model_copy(update={"long_term": False})})


async def test_a_second_turn_on_a_thread_waits_for_the_first_and_each_gets_its_own_answer(settings: Settings) -> None:
    models, gate = gated_models()
    async with open_sena(no_memory(settings), models=models) as sena:
        log: list[tuple[str, str]] = []
        first = asyncio.create_task(run(sena, "t", "first question", log))
        await started(log, "first question")
        second = asyncio.create_task(run(sena, "t", "second question", log))
        await asyncio.sleep(0.3)
        assert ("second question", "turn_queued") in log and ("second question", "turn_start") not in log
        gate.set()
        one, two = await asyncio.gather(first, second)
        assert one["answer"].endswith("first question") and two["answer"].endswith("second question")
        end_of_first = log.index(("first question", "turn_end"))
        second_events = [i for i, (text, kind) in enumerate(log) if text == "second question" and kind != "turn_queued"]
        assert min(second_events) > end_of_first
        assert [m.text for m in await sena.messages("t") if m.type == "human"] == ["first question", "second question"]


async def test_a_turn_that_stops_midway_is_told_to_listeners_as_failed(settings: Settings) -> None:
    """The studio's feed hears every turn end: a cancelled turn ends as `turn_failed`, not silence."""
    models, gate = gated_models()
    async with open_sena(no_memory(settings), models=models) as sena:
        heard: list[dict[str, Any]] = []
        sena.listeners.append(heard.append)
        log: list[tuple[str, str]] = []
        turn = asyncio.create_task(run(sena, "t", "a question", log))
        await started(log, "a question")
        turn.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn
        gate.set()
        [failed] = [e for e in heard if e["event"] == "turn_failed"]
        assert failed["thread_id"] == "t" and failed["message"].startswith("interrupted")
        assert not any(e["event"] == "turn_end" for e in heard)


async def test_another_process_on_the_same_data_waits_for_the_thread(settings: Settings) -> None:
    """Two Senas on one data folder stand for two processes: each has its own lock owner in sena.db."""
    models, gate = gated_models()
    settings = no_memory(settings)
    async with open_sena(settings, models=models) as chat, open_sena(settings, models=models) as server:
        log: list[tuple[str, str]] = []
        first = asyncio.create_task(run(chat, "shared", "from the chat", log))
        await started(log, "from the chat")
        assert server.busy("shared") and not server.busy("another thread")
        second = asyncio.create_task(run(server, "shared", "from the server", log))
        await asyncio.sleep(0.3)
        assert ("from the server", "turn_queued") in log and ("from the server", "turn_start") not in log
        gate.set()
        await asyncio.gather(first, second)
        messages = await server.messages("shared")
        assert [(m.type, m.text.endswith(("from the chat", "from the server"))) for m in messages] == [
            ("human", True), ("ai", True), ("human", True), ("ai", True)
        ]  # fmt: skip
        assert messages[0].text == "from the chat" and messages[2].text == "from the server"


async def test_a_dead_owners_lock_is_taken_over(settings: Settings) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    locks = SqliteThreadLocks.from_path(settings.database_path)
    other = SqliteThreadLocks.from_path(settings.database_path)
    assert other.try_take("t") is not None
    with other._tx() as db:  # as if the process that took it had crashed
        db.execute("UPDATE thread_locks SET pid = ? WHERE thread_id = ?", (dead.pid, "t"))
    assert not locks.busy("t")
    async with locks.hold("t") as held:
        assert not held.waited and locks.owner_of("t") is not None
    assert locks.owner_of("t") is None
    locks.close()
    other.close()


async def test_the_interrupted_check_is_skipped_only_while_nobody_else_touched_the_thread(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = no_memory(settings)
    async with open_sena(settings, models=ScriptedModels()) as a, open_sena(settings, models=ScriptedModels()) as b:
        checks: list[str] = []
        real = Sena.interrupted

        async def counted(self: Sena, thread_id: str) -> bool:
            checks.append("a" if self is a else "b")
            return await real(self, thread_id)

        monkeypatch.setattr(Sena, "interrupted", counted)
        await run(a, "t", "one", [])
        await run(a, "t", "two", [])
        assert checks == ["a"]  # the first turn looks; the second knows nobody else came
        await run(b, "t", "three", [])
        await run(a, "t", "four", [])
        assert checks == ["a", "b", "a"]  # after another process's turn, it looks again


async def test_a_fork_takes_the_threads_turn_and_names_a_bad_intent(settings: Settings) -> None:
    from graph import time_travel as T

    async with open_sena(no_memory(settings), models=ScriptedModels()) as sena:
        await run(sena, "f", "hello there", [])
        [turn] = await T.list_turns(sena.graph, "f")
        with pytest.raises(ValueError, match="no intent 'nonsense'"):
            await sena.fork("f", turn.checkpoints[2], {"intent": "nonsense"})
        async with sena.hold("f"):
            forked = asyncio.create_task(sena.fork("f", turn.checkpoints[2], {"intent": "question"}))
            await asyncio.sleep(0.2)
            assert not forked.done()  # waits for the turn holding the thread
        head, events = await forked
        assert head and any(e["event"] == "node_end" for e in events)


async def test_postgres_turns_queue_on_an_advisory_lock(postgres_url: str) -> None:
    one, two = PostgresThreadLocks(postgres_url), PostgresThreadLocks(postgres_url)
    order: list[str] = []

    async def take(locks: PostgresThreadLocks, name: str) -> None:
        async with locks.hold("thread-x") as held:
            order.append(f"{name} in{' after waiting' if held.waited else ''}")
            await asyncio.sleep(0.3)
            order.append(f"{name} out")

    first = asyncio.create_task(take(one, "one"))
    await asyncio.sleep(0.1)
    await asyncio.gather(first, take(two, "two"))
    assert order == ["one in", "one out", "two in after waiting", "two out"]
    await one.aclose()
    await two.aclose()
