"""Tracing: LangSmith never delays an offline exit; the local JSONL sink records node spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from graph.tracing import LocalTraceSink, configure_langsmith

SENA = str(Path(sys.executable).parent / "sena")


def test_tracing_is_switched_off_without_a_key_or_a_reachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.delenv("LANGSMITH_API_KEY", raising=False)
    assert "LANGSMITH_API_KEY is not" in (configure_langsmith() or "")
    assert os.environ["LANGSMITH_TRACING"] == "false"
    monkeypatch.setenv("LANGSMITH_TRACING", "true")
    monkeypatch.setenv("LANGSMITH_API_KEY", "lsv2-test")
    monkeypatch.setenv("LANGSMITH_ENDPOINT", "http://127.0.0.1:9")
    assert "cannot be reached" in (configure_langsmith(timeout_s=0.5) or "")
    assert os.environ["LANGSMITH_TRACING"] == "false"


def test_local_sink_writes_node_spans(tmp_path: Path) -> None:
    sink = LocalTraceSink(tmp_path)
    sink.write("run1", {"event": "token", "text": "hi"})  # not a span
    sink.write("run1", {"event": "node_end", "node": "generate", "duration_ms": 250.0, "ts": 100.0})
    [line] = sink.path().read_text().splitlines()
    span = json.loads(line)
    assert (span["run_id"], span["node"], span["start"]) == ("run1", "generate", 99.75)


@pytest.mark.slow
def test_a_turn_with_langsmith_tracing_on_and_no_network_exits_promptly(tmp_path: Path) -> None:
    from tests.conftest import small_model_env

    env = small_model_env(tmp_path)
    env.update(
        LANGSMITH_TRACING="true",
        LANGSMITH_API_KEY="lsv2-test",
        LANGSMITH_ENDPOINT="http://127.0.0.1:9",
        SENA_TELEMETRY__LOCAL_TRACES="true",
    )
    started = time.monotonic()
    result = subprocess.run(
        [SENA, "chat", "--thread", "traced"],
        input="hello\n/exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LangSmith tracing is off" in result.stderr
    spans = [json.loads(line) for f in (tmp_path / "traces").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert {s["node"] for s in spans if s["event"] == "node_end"} >= {"classify_intent", "generate"}
    print(f"chat with one turn, tracing requested offline: {elapsed:.1f} s")  # reported, not asserted
