"""Telemetry tables: what a real Sena records per turn, `sena stats`, the API, and retention."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from config.settings import load_settings
from graph.session import open_sena
from ops.doctor import EXPECTED_SCHEMAS
from storage.conversation_log import ConversationLog
from storage.logs import LogStore
from storage.telemetry import MIGRATIONS, ErrorRecord, Metric, TelemetryStore
from storage.topics import TopicStore
from tests.conftest import small_model_env
from tests.fakes import ScriptedModels


async def test_each_turn_records_timings_errors_and_extension_runs(tmp_path: Path) -> None:
    settings = load_settings(
        app={"data_dir": tmp_path}, memory={"long_term": False}, intent_routing={"use_router_model": False}
    )
    models = ScriptedModels(fallback="backup")
    models.model("main").enqueue("Fine, thanks.", RuntimeError("model crashed"), "Your disk is fine.")
    models.model("backup").enqueue("The fallback answers.")
    async with open_sena(settings, models=models) as sena:
        for text, extensions in (("how are you?", ()), ("why is the sky blue?", ()), ("disk?", ("system_info",))):
            [e async for e in sena.turn("t", text, extensions=extensions)]
        telemetry = sena.services.telemetry
        assert telemetry is not None and telemetry.flush()
        summary = telemetry.store.summary(0)
    assert summary["turns"] == 3 and summary["turn_ms"]["count"] == 3
    assert summary["error_rate"] == round(1 / 3, 4)
    assert summary["errors_by_kind"] == {"llm": 1} and summary["errors_recovered"] == 1
    assert set(summary["response_ms"]) == {"fast · embedded:main", "fast · embedded:backup"}
    assert {"classify_intent", "decide_memory", "generate", "extract_learnings"} <= set(summary["node_ms"])
    assert summary["extensions"]["system_info"]["success_rate"] == 1.0


def test_retention_removes_old_rows_only_and_migrations_are_numbered(tmp_path: Path) -> None:
    db = tmp_path / "sena.db"
    store = TelemetryStore.from_path(db)
    logs = LogStore.from_path(db)
    old, now = time.time() - 40 * 86400, time.time()
    store.write(
        [Metric("turn_ms", 5.0, ts=old), Metric("turn_ms", 7.0, ts=now)],
        [ErrorRecord("llm", "X", "old", True, ts=old), ErrorRecord("memory", "Y", "new", True, ts=now)],
    )
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(old))
    logs.add_many([(stamp, "WARNING", 30, "t", "old"), ("2999-01-01 00:00:00", "WARNING", 30, "t", "new")])
    assert store.prune(30) == 3
    assert [m["value"] for m in store.metrics(0)] == [7.0]
    assert [e["message"] for e in store.errors(0)] == ["new"]
    assert [r["message"] for r in logs.recent()] == ["new"]
    versions = sqlite3.connect(db).execute("SELECT version FROM schema_migrations WHERE component = 'telemetry'")
    assert [v for (v,) in versions] == [1, 2] == list(range(1, len(MIGRATIONS) + 1))
    store.close()
    logs.close()


def test_doctor_expects_every_stores_latest_schema() -> None:
    from extensions.registry import ExtensionRegistry
    from graph.recording import Recorder

    stores = (ConversationLog, TopicStore, ExtensionRegistry, Recorder, LogStore, TelemetryStore)
    assert {s.COMPONENT: len(s.MIGRATIONS) for s in stores} == EXPECTED_SCHEMAS


def test_sena_stats_summarises_the_tables(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = TelemetryStore.from_path(data / "sena.db")
    store.write(
        [
            Metric("turn_ms", 900.0, ok=True),
            Metric("turn_ms", 1500.0, ok=False),
            Metric("response_ms", 800.0, role="fast", model="embedded:qwen"),
            Metric("extension_ms", 3.0, subject="system_info", ok=True),
            Metric("extension_ms", 4.0, subject="system_info", ok=False),
            Metric("memory_search_ms", 4.2),
        ],
        [ErrorRecord("memory", "RuntimeError", "Memory search failed: qdrant is down", True, "retrieve")],
    )
    store.close()
    env = small_model_env(data)
    run = [sys.executable, "-m", "cli", "stats"]
    shown = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "2 turns, error rate 50.0%, 1 failures (1 recovered): memory 1" in shown.stdout
    assert "answer fast · embedded:qwen" in shown.stdout and "Memory search failed" in shown.stdout
    figures = json.loads(subprocess.run([*run, "--json"], capture_output=True, text=True, env=env).stdout)
    assert figures["extensions"]["system_info"]["success_rate"] == 0.5
    assert figures["memory_ms"]["search"]["p50"] == 4.2
