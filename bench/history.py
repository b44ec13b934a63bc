"""Benchmark history: every `sena bench` run is kept (the last `bench.keep_sessions` per suite, in the
`benchmarks` table) and compared with the previous run; a metric worse by more than the configured
threshold is flagged as a regression, with a hint on where to look.

Reports are nested dicts; their numeric leaves become dotted metric names (`latency.10000.search_ms_p95`).
Only metrics whose direction is known are kept: times and failure counts (lower is better),
recall and throughput (higher is better). Lists (the threshold sweep) and parameters are not.
"""

from __future__ import annotations

import fnmatch
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from config.settings import BenchSettings
from storage.telemetry import TelemetryStore

Better = Literal["lower", "higher"]

DIRECTIONS: tuple[tuple[str, Better | None], ...] = (
    ("*debounce_ms*", None),  # a setting, not a measurement
    ("*false_hit_rate*", "lower"),
    ("*pure_questions*", "lower"),  # memories made from questions that stated nothing
    ("*stale*", "lower"),
    ("*recall*", "higher"),
    ("*accuracy*", "higher"),
    ("*without_model_share*", "higher"),
    ("*new_above_old*", "higher"),
    ("success*", "higher"),  # generated extensions that passed, first attempt or within the attempts
    ("correct_on_example", "higher"),
    ("seconds_*", "lower"),
    ("over_60_s", "lower"),
    ("*vs_bm25*", "higher"),
    ("*per_s*", "higher"),
    ("*failed*", "lower"),
    ("*lost*", "lower"),
    ("*missing*", "lower"),
    ("*ms*", "lower"),
    ("*bytes*", "lower"),
    ("*checkpoint_rows*", "lower"),
    ("*rss_mb*", "lower"),
)
"""First match wins; a metric that matches none is not kept."""

HINTS: tuple[tuple[str, str], ...] = (
    ("turn.*ttft*", "The model starts answering later: check other load on the machine, "
     "llm.embedded.n_threads (0 = one per core), and a smaller model or quantisation for the fast role."),
    ("turn.*model_ms*", "The model got slower: check machine load, llm.embedded.n_threads, and max_tokens per role."),
    ("turn.*", "The graph's own time grew: `sena bench database` (checkpoint writes) and the node times in "
     "`sena chat --verbose` show which step; keep data/ on a local SSD."),
    ("routing.*", "Intent routing got worse or slower: check the rules and examples in config/models.yaml "
     "and intent_routing.router_threshold; `sena bench routing` lists the confusions."),
    ("memory.*recall*", "Retrieval quality fell: check memory.search_threshold, memory.recency_weight and the "
     "embedder; `sena bench memory` prints the threshold sweep."),
    ("memory.*new_above_old*", "Updated facts rank below old ones more often: check memory.recency_weight."),
    ("memory.*", "Memory search got slower: the vector index is optimised every 1,000 writes, so a large "
     "import may need a restart; lower memory.search_k, or prune memories (`sena memory delete`)."),
    ("generate.*", "Extension generation got worse or slower: `sena bench generate` lists each request's errors "
     "and repairs; check the code role's model and temperature, and extensions/examples.py."),
    ("extensions.*", "Sandbox calls got slower: check machine load and extensions.sandbox limits; "
     "a heavy extension in the user folder slows loading."),
    ("long.*bytes*", "A long thread takes more room per turn: check database.node_history_turns and "
     "memory.short_term_messages (the state's window), and that compaction runs (`sena threads compact`)."),
    ("long.*", "Turns got slower as the thread grew: something reads the whole thread per turn; "
     "`sena chat --verbose` shows the node times, `sena bench database` the checkpoint writes."),
    ("database.*", "SQLite got slower: run `sena doctor` (integrity), keep data/ on a local SSD, "
     "prune old threads (`sena threads prune`) and VACUUM data/sena.db."),
    ("load.*", "The server is slower under load: check `sena bench database`; docs/DEPLOY.md shows "
     "several workers sharing PostgreSQL and a Qdrant server."),
)  # fmt: skip


def direction(metric: str) -> Better | None:
    for pattern, better in DIRECTIONS:
        if fnmatch.fnmatch(metric, pattern):
            return better
    return None


def hint(metric: str) -> str:
    return next((text for pattern, text in HINTS if fnmatch.fnmatch(metric, pattern)), "")


def flatten(report: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The report's numeric leaves with a known direction, by dotted name."""
    found: dict[str, float] = {}
    for key, value in report.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            found.update(flatten(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and direction(name):
            found[name] = float(value)
    return found


@dataclass(frozen=True)
class Change:
    metric: str
    before: float
    after: float
    change_pct: float | None  # None when `before` is 0
    better: Better
    regression: bool
    hint: str

    @property
    def improved(self) -> bool:
        if self.before == self.after:
            return False
        return (self.after < self.before) == (self.better == "lower")


def compare(
    suite: str, previous: Mapping[str, float], current: Mapping[str, float], config: BenchSettings
) -> list[Change]:
    """Each metric both runs have, with its change; regressions are worse than their threshold
    (and, for times, by at least `min_change_ms`: sub-millisecond jitter is not a regression)."""
    changes = []
    for metric, after in current.items():
        if metric not in previous or (better := direction(metric)) is None:
            continue
        before = previous[metric]
        worse = after - before if better == "lower" else before - after
        pct = None if before == 0 else round((after - before) / abs(before) * 100, 1)
        named = f"{suite}.{metric}"
        limit = next((p for pattern, p in config.thresholds.items() if fnmatch.fnmatch(named, pattern)), None)
        limit = config.regression_pct if limit is None else limit
        is_time = "_ms" in metric
        regression = worse > 0 and (
            (before == 0 and not is_time) or (before != 0 and worse / abs(before) * 100 > limit)
        )
        if is_time and worse < config.min_change_ms:
            regression = False
        why = hint(named) if regression else ""
        changes.append(Change(metric, before, after, pct, better, regression, why))
    return changes


@dataclass(frozen=True)
class Session:
    session_id: str
    ts: float
    metrics: dict[str, float]


class BenchHistory:
    """The `benchmarks` table seen as sessions of suites."""

    def __init__(self, store: TelemetryStore, config: BenchSettings) -> None:
        self.store = store
        self.config = config

    def sessions(self, suite: str, limit: int | None = None) -> list[Session]:
        """The suite's kept sessions, newest first."""
        rows = self.store.benchmark_rows(suite)
        by_session: dict[str, Session] = {}
        for row in rows:
            session = by_session.setdefault(row["session_id"], Session(row["session_id"], row["ts"], {}))
            session.metrics[row["metric"]] = row["value"]
        ordered = sorted(by_session.values(), key=lambda s: s.ts, reverse=True)
        return ordered[:limit] if limit else ordered

    def keep(self, suite: str, report: Mapping[str, Any], session_id: str | None = None) -> list[Change]:
        """Store this run, compare it with the previous one, and forget sessions beyond `keep_sessions`."""
        metrics = flatten(report)
        previous = self.sessions(suite, 1)
        session_id = session_id or uuid.uuid4().hex[:12]
        rows = [(metric, value, direction(metric) or "lower") for metric, value in metrics.items()]
        self.store.save_benchmark(session_id, time.time(), suite, rows)
        self.store.prune_benchmarks(suite, self.config.keep_sessions)
        return compare(suite, previous[0].metrics, metrics, self.config) if previous else []
