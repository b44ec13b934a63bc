"""A thread that lives for months: the checkpoint keeps a window, the conversation log keeps everything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage

from bench.turn import InstantModels
from config.settings import Settings, load_settings
from graph.builder import build_graph
from graph.session import open_sena
from graph.thread_files import export_session, import_session
from tests.conftest import MODELS_DIR


def long_settings(root: Path, window: int = 4) -> Settings:
    settings = load_settings(
        app={"data_dir": root},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        memory={"long_term": False, "short_term_messages": window},
        extensions={"enabled": False},
    )
    settings.intent_routing.use_router_model = False
    return settings


async def talk(sena: object, thread: str, texts: list[str]) -> None:
    for text in texts:
        async for _ in sena.turn(thread, text):  # type: ignore[attr-defined]
            pass


async def checkpoint_bytes(sena: object, thread: str) -> int:
    saver = sena.graph.checkpointer  # type: ignore[attr-defined]
    snapshot = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    _, blob = saver.serde.dumps_typed(snapshot.checkpoint)
    return len(blob)


async def test_state_size_does_not_grow_with_the_thread_and_nothing_is_lost(tmp_path: Path) -> None:
    said = [f"message number {i} about topic {i % 7}" for i in range(40)]
    async with open_sena(long_settings(tmp_path), models=InstantModels()) as sena:
        await talk(sena, "t", said[:10])
        early = await checkpoint_bytes(sena, "t")
        await talk(sena, "t", said[10:])
        late = await checkpoint_bytes(sena, "t")
        window = (await sena.state("t")).values["messages"]
        assert len(window) <= 4 + 2 and window[-2].text == said[-1]
        assert late <= early * 1.1, (early, late)
        transcript = await sena.messages("t")
        assert [m.text for m in transcript if isinstance(m, HumanMessage)] == said
        assert len(transcript) == 80 and all(m.text == InstantModels.REPLY for m in transcript[1::2])
        assert len({m.id for m in transcript}) == 80
        latest = await sena.messages("t", turns=3)  # /history?limit=3 reads three rows, not the thread
        assert [m.text for m in latest if isinstance(m, HumanMessage)] == said[-3:] and len(latest) == 6

        exported = await export_session(sena, "t")
        await import_session(sena, exported, "copy")
        again = await export_session(sena, "copy")
        assert {**again, "thread_id": "t"} == exported
        await talk(sena, "copy", ["one more"])
        assert [m.text for m in await sena.messages("copy")][-2:] == ["one more", InstantModels.REPLY]
        assert len(await sena.messages("copy")) == 82


async def test_a_thread_from_before_the_log_kept_ids_keeps_its_messages(tmp_path: Path) -> None:
    """Rows without message ids (an older sena.db): those messages stay in the checkpoint, none is lost."""
    settings = long_settings(tmp_path)
    async with open_sena(settings, models=InstantModels()) as sena:
        await talk(sena, "old", ["first", "second"])
        assert sena.services.log is not None
        with sena.services.log._tx() as conn:  # retries while telemetry's writer holds the lock
            conn.execute("UPDATE conversations SET message_id = NULL, answer_id = NULL")
        await talk(sena, "old", [f"later {i}" for i in range(8)])
        texts = [m.text for m in await sena.messages("old") if isinstance(m, HumanMessage)]
        assert texts == ["first", "second", *[f"later {i}" for i in range(8)]]


async def test_old_turns_are_compacted_and_still_listed_inspected_and_forked(tmp_path: Path) -> None:
    from graph import time_travel as T
    from storage.compaction import database_bytes

    settings = long_settings(tmp_path)
    settings.database.node_history_turns = 3
    said = [f"question {i}" for i in range(12)]
    async with open_sena(settings, models=InstantModels()) as sena:
        await talk(sena, "t", said)
        turns = await T.list_turns(sena.graph, "t")
        assert [t.message for t in turns] == said
        assert [t.compacted for t in turns] == [True] * 9 + [False] * 3
        page = await T.list_turns(sena.graph, "t", limit=4, offset=2)  # read from the newest backwards
        assert [(t.index, t.message) for t in page] == [(i + 1, said[i]) for i in range(6, 10)]
        assert (await T.find_turn(sena.graph, "t", 2)).message == said[1]
        old, recent = turns[0], turns[-1]
        assert old.complete and old.final["answer"] == InstantModels.REPLY and not old.steps
        assert len(old.checkpoints) == 1 and len(recent.checkpoints) >= 5
        assert [s.node for s in recent.steps][:2] == ["classify_intent", "decide_memory"]
        saver: Any = sena.graph.checkpointer
        async with saver.conn.execute("SELECT COUNT(*) FROM checkpoints WHERE thread_id = 't'") as cursor:
            (rows,) = await cursor.fetchone()
        assert rows == 9 + sum(len(t.checkpoints) for t in turns[-3:])
        recorder: Any = sena.services.recorder
        recorded = recorder._query("SELECT COUNT(DISTINCT turn) AS n FROM recordings")[0]["n"]
        assert recorded == 3  # only turns that can still be replayed node by node keep their recordings
        assert len(await sena.messages("t")) == 24  # the transcript is whole
        rebuild = lambda saver: build_graph(sena.services, saver)  # noqa: E731
        replayed = await T.replay(sena.graph, rebuild, "t", recent.start_checkpoint, "recorded")
        assert replayed.identical, replayed.changes
        forked, _ = await T.fork(
            sena.graph, "t", old.start_checkpoint, {"answer": "edited"}, as_node="extract_learnings"
        )
        assert forked and (await sena.state("t")).values["answer"] == "edited"
        assert database_bytes(settings.database_path) > 0


async def old_style_database(root: Path, turns: int) -> Settings:
    """A sena.db as the versions before bounded history left it: every message in every checkpoint,
    every checkpoint kept, log rows without message ids, no upgrade recorded."""
    import sqlite3

    settings = long_settings(root, window=10_000)
    settings.database.node_history_turns = 10_000
    async with open_sena(settings, models=InstantModels(), upgrade=False) as sena:
        await talk(sena, "big", [f"old question {i} " + "words " * 40 for i in range(turns)])
        await talk(sena, "small", ["just one"])
    with sqlite3.connect(settings.database_path) as db:
        db.execute("UPDATE conversations SET message_id = NULL, message_ts = NULL, answer_id = NULL, answer_ts = NULL")
        db.execute("DELETE FROM schema_migrations WHERE component = 'history'")
    return long_settings(root)


async def test_an_older_database_upgrades_in_place_at_start_and_loses_no_message(tmp_path: Path) -> None:
    import sqlite3

    from storage.compaction import database_bytes

    settings = await old_style_database(tmp_path, 80)
    before = database_bytes(settings.database_path)
    with sqlite3.connect(settings.database_path) as db:
        rows_before = db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
    settings.database.node_history_turns = 5
    async with open_sena(settings, models=InstantModels()) as sena:  # the upgrade runs here, once
        texts = [m.text for m in await sena.messages("big") if isinstance(m, HumanMessage)]
        assert texts == [f"old question {i} " + "words " * 40 for i in range(80)]
        assert [m.text for m in await sena.messages("small")] == ["just one", InstantModels.REPLY]
        assert len((await sena.state("big")).values["messages"]) <= 4 + 2
        await talk(sena, "big", ["and a new one"])
        assert len(await sena.messages("big")) == 162
    after = database_bytes(settings.database_path)
    with sqlite3.connect(settings.database_path) as db:
        rows_after = db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0]
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental from now on
    assert rows_after < rows_before / 4 and after < before / 4, (rows_before, rows_after, before, after)
