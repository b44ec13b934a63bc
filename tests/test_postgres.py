"""The PostgreSQL checkpointer, switched on by configuration, against a real server on loopback.

The graph tests (test_graph, test_replay, test_recovery) also run over it through the
`checkpointer` fixture; these cover what configuration, the CLI and several workers add.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.background import free_port
from config.errors import ConfigError, DatabaseError
from config.settings import Settings, load_settings
from graph.session import open_sena
from graph.time_travel import list_turns
from ops.doctor import checkpointer
from tests.conftest import small_model_env
from tests.fakes import ScriptedModels
from tests.postgres import fresh_database
from tests.serving import TOKEN, running_server, serve_env


def postgres_settings(data_dir: Path, url: str) -> Settings:
    return load_settings(
        app={"data_dir": data_dir},
        database={"checkpointer": "postgres", "postgres_url": url},
        memory={"long_term": False},
        intent_routing={"use_router_model": False},
    )


async def test_conversations_survive_a_restart_and_replay_over_postgres(tmp_path: Path, postgres_url: str) -> None:
    url = fresh_database(postgres_url)
    settings = postgres_settings(tmp_path, url)
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue("Noted.", "You like trains.")
    async with open_sena(settings, models=models) as sena:
        [e async for e in sena.turn("p1", "I like trains")]
    assert not (tmp_path / "sena.db").exists() or "checkpoints" not in _sqlite_tables(tmp_path / "sena.db")
    async with open_sena(settings, models=models) as sena:
        [e async for e in sena.turn("p1", "what do I like?")]
        texts = [m.text for m in await sena.messages("p1")]
        turns = await list_turns(sena.graph, "p1")
    assert texts == ["I like trains", "Noted.", "what do I like?", "You like trains."]
    assert [t.summary()["message"] for t in turns] == ["I like trains", "what do I like?"]
    assert [c.status for c in checkpointer(settings)] == ["pass"]


def _sqlite_tables(path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def test_an_unreachable_server_or_a_missing_url_is_a_clear_error(tmp_path: Path) -> None:
    dead = f"postgresql://sena:secret@127.0.0.1:{free_port()}/sena"
    settings = postgres_settings(tmp_path, dead)
    settings.database.connect_timeout_s = 2
    with pytest.raises(DatabaseError) as down:
        async with open_sena(settings, models=ScriptedModels()):
            pass
    assert "is not reachable" in down.value.message and "secret" not in str(down.value)
    assert "pg_isready" in down.value.hint
    [check] = checkpointer(settings)
    assert check.status == "fail" and "pg_isready" in check.fix
    settings.database.postgres_url = None
    with pytest.raises(ConfigError, match="postgres_url is not set"):
        async with open_sena(settings, models=ScriptedModels()):
            pass


def test_sena_chat_with_postgres_down_explains_without_a_traceback(tmp_path: Path) -> None:
    env = small_model_env(tmp_path / "data")
    env.update(
        SENA_DATABASE__CHECKPOINTER="postgres",
        SENA_DATABASE__POSTGRES_URL=f"postgresql://sena@127.0.0.1:{free_port()}/sena",
        SENA_DATABASE__CONNECT_TIMEOUT_S="2",
        SENA_MEMORY__LONG_TERM="false",
    )
    result = subprocess.run(
        [sys.executable, "-m", "cli", "chat"], input="hello\n", capture_output=True, text=True, env=env, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "PostgreSQL at postgresql://sena@127.0.0.1" in output and "pg_isready" in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_two_workers_share_conversations_through_postgres(tmp_path: Path, postgres_url: str) -> None:
    """The multi-worker layout of docs/DEPLOY.md: a thread begun on one worker goes on on another."""
    url = fresh_database(postgres_url)
    envs = []
    for name in ("a", "b"):
        env = serve_env(tmp_path / name)
        env.update(SENA_DATABASE__CHECKPOINTER="postgres", SENA_DATABASE__POSTGRES_URL=url)
        env["SENA_MEMORY__LONG_TERM"] = "false"
        envs.append(env)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with running_server(envs[0]) as a, running_server(envs[1]) as b:
        first = httpx.post(f"{a}/api/v1/chat", json={"message": "hello", "thread_id": "w1"}, headers=auth, timeout=300)
        assert first.status_code == 200, first.text
        second = httpx.post(
            f"{b}/api/v1/chat", json={"message": "thanks", "thread_id": "w1"}, headers=auth, timeout=300
        )
        assert second.status_code == 200, second.text
        seen_by_a = httpx.get(f"{a}/api/v1/chat/history", params={"thread_id": "w1"}, headers=auth).json()
    assert [m["content"] for m in seen_by_a if m["role"] == "user"] == ["hello", "thanks"]
    assert len(seen_by_a) == 4


async def test_old_turns_are_compacted_over_postgres_too(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    from bench.turn import InstantModels
    from graph import time_travel as T
    from graph.builder import build_graph
    from storage.compaction import PostgresCompactor

    settings = postgres_settings(tmp_path, fresh_database(postgres_url))
    settings.database.node_history_turns = 3
    settings.memory.short_term_messages = 4
    said = [f"question {i}" for i in range(10)]
    async with open_sena(settings, models=InstantModels()) as sena:
        assert isinstance(sena.compactor, PostgresCompactor)
        sena.compactor.page_rows = 4  # the thread's checkpoints are read in several pages
        sena.compactor.vacuum_every = 2  # and the tables are vacuumed along the way
        for text in said:
            [e async for e in sena.turn("pg", text)]
        turns = await T.list_turns(sena.graph, "pg")
        assert [t.message for t in turns] == said
        assert [t.compacted for t in turns] == [True] * 7 + [False] * 3
        assert turns[0].final["answer"] == InstantModels.REPLY and len(await sena.messages("pg")) == 20
        rebuild = lambda saver: build_graph(sena.services, saver)  # noqa: E731
        replayed = await T.replay(sena.graph, rebuild, "pg", turns[-1].start_checkpoint, "recorded")
        assert replayed.identical, replayed.changes
        recorder: Any = sena.services.recorder
        assert recorder._query("SELECT COUNT(DISTINCT turn) AS n FROM recordings")[0]["n"] == 3
    with psycopg.connect(str(settings.database.postgres_url)) as conn:
        rows = one(conn, "SELECT COUNT(*) FROM checkpoints WHERE thread_id = 'pg'")
        orphans = one(
            conn,
            "SELECT COUNT(*) FROM checkpoint_blobs b WHERE b.thread_id = 'pg' AND NOT EXISTS ("
            " SELECT 1 FROM checkpoints c, jsonb_each(c.checkpoint -> 'channel_versions') v"
            " WHERE c.thread_id = 'pg' AND v.key = b.channel AND v.value #>> '{}' = b.version)",
        )
        blobs = one(conn, "SELECT COUNT(*) FROM checkpoint_blobs WHERE thread_id = 'pg'")
    assert rows == 7 + sum(len(t.checkpoints) for t in turns[-3:])
    assert orphans == 0 and blobs > 0  # no value is left that no checkpoint names


def one(conn: Any, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]
