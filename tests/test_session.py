"""A thread survives its process: history across sessions, and an interrupted turn is finished."""

from __future__ import annotations

import io

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from rich.console import Console

from cli.chat import LocalFront
from cli.commands import TurnView, greet
from config.settings import Settings
from graph.builder import make_builder
from graph.services import Services
from graph.session import open_sena
from tests.fakes import ScriptedModels
from tests.helpers import run_turn


async def test_interrupted_turn_is_finished_when_the_thread_reopens(settings: Settings) -> None:
    models = ScriptedModels()
    models.model("main").enqueue("The finished answer.")
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    # First process: the turn stops right before `generate` (as if killed there).
    async with AsyncSqliteSaver.from_conn_string(str(settings.database_path)) as saver:
        graph = make_builder(Services(settings=settings, models=models)).compile(
            checkpointer=saver, interrupt_before=["generate"]
        )
        await run_turn(graph, "k", "why is the sky blue?")
    # Second process: opening the thread finishes the turn.
    async with open_sena(settings, models=models) as sena:
        assert await sena.interrupted("k")
        front = LocalFront(sena, "k", TurnView(Console(file=io.StringIO())))
        await greet(front)
        assert not await sena.interrupted("k")
        messages = await sena.messages("k")
        assert [m.text for m in messages] == ["why is the sky blue?", "The finished answer."]
        assert sena.services.log is not None
        assert [t.response for t in sena.services.log.turns("k")] == ["The finished answer."]
