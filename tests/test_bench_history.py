"""Benchmark history: kept sessions, comparison with the previous run, regressions with hints."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.history import BenchHistory, compare, flatten
from config.settings import BenchSettings
from storage.telemetry import TelemetryStore
from tests.conftest import small_model_env


def test_flatten_keeps_measurements_with_a_known_direction() -> None:
    report = {
        "turns": 50,
        "turn_ms_p95": 12.5,
        "hot_reload_ms": {"p50": 303.0, "debounce_ms": 300.0},
        "sena": {"recall_at_5": 0.93, "recall_at_5_by_kind": {"single": 1.0}},
        "threshold_sweep": [{"threshold": 0.2, "recall_at_5": 0.9}],
        "failed_requests": 0,
        "ok": True,
    }
    assert flatten(report) == {
        "turn_ms_p95": 12.5,
        "hot_reload_ms.p50": 303.0,
        "sena.recall_at_5": 0.93,
        "sena.recall_at_5_by_kind.single": 1.0,
        "failed_requests": 0.0,
    }
    generated = {"requests": 40, "success": 0.875, "success_first_attempt": 0.85, "correct_on_example": 0.75,
                 "seconds_p95": 26.1, "over_60_s": 0, "rows": [{"seconds": 20.0}]}  # fmt: skip
    assert flatten(generated) == {
        "success": 0.875,
        "success_first_attempt": 0.85,
        "correct_on_example": 0.75,
        "seconds_p95": 26.1,
        "over_60_s": 0.0,
    }


def test_compare_flags_only_what_got_worse_beyond_its_threshold() -> None:
    config = BenchSettings(regression_pct=20, thresholds={"database.search*": 5}, min_change_ms=0.5)
    before = {"turn_ms": 100.0, "fast_ms": 0.4, "search_ms": 10.0, "recall": 0.9, "failed": 0.0, "load_ms": 50.0}
    after = {"turn_ms": 130.0, "fast_ms": 0.8, "search_ms": 10.6, "recall": 0.6, "failed": 2.0, "load_ms": 55.0}
    changes = {c.metric: c for c in compare("database", before, after, config)}
    assert {m for m, c in changes.items() if c.regression} == {"turn_ms", "search_ms", "recall", "failed"}
    assert not changes["fast_ms"].regression  # +100 % but only 0.4 ms: jitter
    assert not changes["load_ms"].regression  # +10 % is within 20 %
    assert changes["turn_ms"].change_pct == 30.0 and "SQLite got slower" in changes["turn_ms"].hint
    assert changes["failed"].change_pct is None
    faster = compare("turn", {"turn_ms": 100.0}, {"turn_ms": 50.0}, config)[0]
    assert faster.improved and not faster.regression and faster.hint == ""


def test_only_the_last_sessions_are_kept_newest_first(tmp_path: Path) -> None:
    store = TelemetryStore.from_path(tmp_path / "sena.db")
    history = BenchHistory(store, BenchSettings(keep_sessions=10))
    for i in range(12):
        history.keep("database", {"write_ms": float(i + 1)}, session_id=f"s{i}")
        time.sleep(0.002)
    sessions = history.sessions("database")
    assert [s.session_id for s in sessions] == [f"s{i}" for i in range(11, 1, -1)]
    assert sessions[0].metrics == {"write_ms": 12.0}
    store.close()


def test_sena_bench_keeps_runs_and_flags_a_regression_with_a_hint(tmp_path: Path) -> None:
    env = small_model_env(tmp_path / "data")
    env["SENA_BENCH__MIN_CHANGE_MS"] = "0.1"  # these SQLite operations take under 1 ms (the default floor)
    bench = [sys.executable, "-m", "cli", "bench", "database", "--samples", "30"]
    first = subprocess.run(bench, capture_output=True, text=True, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "first kept run" in first.stderr
    store = TelemetryStore.from_path(tmp_path / "data" / "sena.db")
    history = BenchHistory(store, BenchSettings())
    measured = history.sessions("database")[0].metrics
    faster = {metric: value / 50 for metric, value in measured.items()}  # as if the last run was 50x faster
    store.save_benchmark("fast", time.time(), "database", [(m, v, "lower") for m, v in faster.items()])
    store.close()
    second = subprocess.run(bench, capture_output=True, text=True, env=env, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "REGRESSION" in second.stderr and "SQLite got slower" in second.stderr
    shown = subprocess.run([*bench[:4], "history", "database"], capture_output=True, text=True, env=env)
    assert "database: last 3 runs" in shown.stdout and "checkpoint_write_ms.p50" in shown.stdout
