"""Telemetry in SQLite (data/sena.db): what each turn cost and what failed, for `sena stats` and the API.

Tables (numbered migrations under the `telemetry` component):
- `telemetry_metrics`: one row per measurement: `turn_ms`, `response_ms` (per role and model),
  `node_ms` (per node), `extension_ms` (per extension, with ok), `memory_search_ms`, `memory_write_ms`.
- `telemetry_errors`: one row per failure, with its `SenaError` kind and whether Sena recovered.
- `benchmarks`: `sena bench` results, the last sessions of each suite (bench/history.py).
WARNING+ log records are in `logs` (storage/logs.py). Rows older than `telemetry.retention_days`
are deleted when Sena starts.

Nothing here writes on the caller's thread: rows are queued and a background thread writes
them in batches, so the event loop never waits on SQLite.
"""

from __future__ import annotations

import logging
import queue
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.errors import SenaError
from storage.db import SqliteStore

log = logging.getLogger(__name__)

MIGRATIONS = (
    """
    CREATE TABLE telemetry_metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        role TEXT,
        model TEXT,
        node TEXT,
        subject TEXT,
        ok INTEGER,
        thread_id TEXT
    );
    CREATE INDEX telemetry_metrics_name_ts ON telemetry_metrics(name, ts);
    CREATE TABLE telemetry_errors (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        error TEXT NOT NULL,
        node TEXT,
        message TEXT NOT NULL,
        recovered INTEGER NOT NULL,
        thread_id TEXT
    );
    CREATE INDEX telemetry_errors_ts ON telemetry_errors(ts)
    """,
    """
    CREATE TABLE benchmarks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        ts REAL NOT NULL,
        suite TEXT NOT NULL,
        metric TEXT NOT NULL,
        value REAL NOT NULL,
        better TEXT NOT NULL CHECK (better IN ('lower', 'higher'))
    );
    CREATE INDEX benchmarks_suite_ts ON benchmarks(suite, ts)
    """,
)

METRIC_COLUMNS = ("ts", "name", "value", "role", "model", "node", "subject", "ok", "thread_id")
ERROR_COLUMNS = ("ts", "kind", "error", "node", "message", "recovered", "thread_id")


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    role: str | None = None
    model: str | None = None
    node: str | None = None
    subject: str | None = None
    ok: bool | None = None
    thread_id: str | None = None
    ts: float = 0.0

    def row(self) -> tuple[Any, ...]:
        ok = None if self.ok is None else int(self.ok)
        return (self.ts or time.time(), self.name, self.value, self.role, self.model, self.node, self.subject, ok,
                self.thread_id)  # fmt: skip


@dataclass(frozen=True)
class ErrorRecord:
    kind: str
    error: str
    message: str
    recovered: bool
    node: str | None = None
    thread_id: str | None = None
    ts: float = 0.0

    def row(self) -> tuple[Any, ...]:
        return (self.ts or time.time(), self.kind, self.error, self.node, self.message, int(self.recovered),
                self.thread_id)  # fmt: skip


class TelemetryStore(SqliteStore):
    COMPONENT = "telemetry"
    MIGRATIONS = MIGRATIONS

    def write(self, metrics: Sequence[Metric], errors: Sequence[ErrorRecord]) -> None:
        with self._tx() as conn:
            if metrics:
                conn.executemany(
                    f"INSERT INTO telemetry_metrics ({', '.join(METRIC_COLUMNS)}) VALUES ({', '.join('?' * 9)})",
                    [m.row() for m in metrics],
                )
            if errors:
                conn.executemany(
                    f"INSERT INTO telemetry_errors ({', '.join(ERROR_COLUMNS)}) VALUES ({', '.join('?' * 7)})",
                    [e.row() for e in errors],
                )

    def prune(self, retention_days: int, now: float | None = None) -> int:
        """Delete metrics, errors and log records older than `retention_days`; return rows deleted."""
        cutoff = (now or time.time()) - retention_days * 86400
        deleted = 0
        with self._tx() as conn:
            deleted += conn.execute("DELETE FROM telemetry_metrics WHERE ts < ?", (cutoff,)).rowcount
            deleted += conn.execute("DELETE FROM telemetry_errors WHERE ts < ?", (cutoff,)).rowcount
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'logs'").fetchone():
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(cutoff))
                deleted += conn.execute("DELETE FROM logs WHERE ts < ?", (stamp,)).rowcount
        return deleted

    def metrics(self, since: float, name: str | None = None) -> list[dict[str, Any]]:
        sql = f"SELECT {', '.join(METRIC_COLUMNS)} FROM telemetry_metrics WHERE ts >= ?"
        params: list[Any] = [since]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        return [dict(r) for r in self._query(sql + " ORDER BY ts", params)]

    def errors(self, since: float, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._query(
            f"SELECT {', '.join(ERROR_COLUMNS)} FROM telemetry_errors WHERE ts >= ? ORDER BY id DESC LIMIT ?",
            (since, limit),
        )
        return [dict(r) for r in reversed(rows)]

    def save_benchmark(self, session_id: str, ts: float, suite: str, rows: Sequence[tuple[str, float, str]]) -> None:
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO benchmarks (session_id, ts, suite, metric, value, better) VALUES (?, ?, ?, ?, ?, ?)",
                [(session_id, ts, suite, metric, value, better) for metric, value, better in rows],
            )

    def benchmark_rows(self, suite: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT session_id, ts, metric, value FROM benchmarks WHERE suite = ? ORDER BY id", (suite,))
        return [dict(r) for r in rows]

    def benchmark_suites(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT suite FROM benchmarks ORDER BY suite")]

    def prune_benchmarks(self, suite: str, keep: int) -> None:
        """Keep the newest `keep` sessions of `suite`."""
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM benchmarks WHERE suite = ? AND session_id NOT IN ("
                " SELECT session_id FROM benchmarks WHERE suite = ? GROUP BY session_id"
                " ORDER BY MAX(ts) DESC LIMIT ?)",
                (suite, suite, keep),
            )

    def summary(self, since: float) -> dict[str, Any]:
        """What `sena stats` and `GET /telemetry/metrics` show, over rows since `since`."""
        return summarize(self.metrics(since), self.errors(since, limit=10_000))

    def series(self, since: float, until: float, buckets: int) -> dict[str, Any]:
        """The studio's charts: see `series`."""
        return series(self.metrics(since), self.errors(since, limit=100_000), since, until, buckets)


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"count": len(values), "p50": round(statistics.median(ordered), 1), "p95": round(p95, 1)}


def series(
    metrics: list[dict[str, Any]], errors: list[dict[str, Any]], since: float, until: float, buckets: int
) -> dict[str, Any]:
    """Metrics over time for charts: `t` holds each bucket's start (epoch seconds), and every
    series one value per bucket (None where the bucket is empty): response time per role and
    model (median), node time per node (median and p95), errors per kind (per turn), extension
    success (share), memory search and write latency (median), the host's CPU, memory and disk
    use (mean, %)."""
    width = max((until - since) / buckets, 1e-9)
    starts = [round(since + i * width, 3) for i in range(buckets)]
    cells: dict[str, list[list[float]]] = defaultdict(lambda: [[] for _ in range(buckets)])

    def put(key: str, ts: float, value: float) -> None:
        index = min(buckets - 1, max(0, int((ts - since) / width)))
        cells[key][index].append(value)

    for m in metrics:
        name, ts, value = m["name"], m["ts"], m["value"]
        if name == "response_ms":
            put(f"response_ms|{m['role']}|{m['model']}", ts, value)
        elif name == "node_ms":
            put(f"node_ms|{m['node']}", ts, value)
        elif name == "extension_ms":
            put("extension_success", ts, 1.0 if m["ok"] else 0.0)
        elif name in ("memory_search_ms", "memory_write_ms", "turn_ms") or name.startswith("host_"):
            put(name, ts, value)
    for e in errors:
        put(f"errors|{e['kind']}", e["ts"], 1.0)

    def reduce(key: str, values: list[float]) -> float | None:
        if not values:
            return None
        if key.startswith("errors|"):
            return float(len(values))
        if key == "extension_success" or key.startswith("host_"):
            return round(sum(values) / len(values), 3)
        return round(statistics.median(values), 1)

    out: dict[str, Any] = {"t": starts, "series": {}}
    for key, columns in sorted(cells.items()):
        out["series"][key] = [reduce(key, c) for c in columns]
        if key.startswith("node_ms|"):
            out["series"][key.replace("node_ms|", "node_p95|")] = [percentiles(c)["p95"] for c in columns]
    turns = [len(c) for c in cells["turn_ms"]] if "turn_ms" in cells else [0] * buckets
    for key in [k for k in out["series"] if k.startswith("errors|")]:  # errors per turn (per error without turns)
        out["series"][key] = [round((v or 0.0) / max(1, n), 3) for v, n in zip(out["series"][key], turns, strict=True)]
    return out


def summarize(metrics: list[dict[str, Any]], errors: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    extension_ok: dict[str, list[bool]] = defaultdict(list)
    turns = failed_turns = 0
    for m in metrics:
        name = m["name"]
        if name == "turn_ms":
            turns += 1
            failed_turns += m["ok"] == 0
            groups["turn", "all"].append(m["value"])
        elif name == "response_ms":
            groups["response", f"{m['role']} · {m['model']}"].append(m["value"])
        elif name == "node_ms":
            groups["node", m["node"]].append(m["value"])
        elif name == "extension_ms":
            extension_ok[m["subject"]].append(bool(m["ok"]))
            groups["extension", m["subject"]].append(m["value"])
        elif name.startswith("memory_"):
            groups["memory", name.removeprefix("memory_").removesuffix("_ms")].append(m["value"])
    by_kind: dict[str, int] = defaultdict(int)
    for e in errors:
        by_kind[e["kind"]] += 1

    def section(kind: str) -> dict[str, Any]:
        return {key: percentiles(values) for (k, key), values in sorted(groups.items()) if k == kind}

    return {
        "turns": turns,
        "turn_ms": percentiles(groups["turn", "all"]),
        "error_rate": round(failed_turns / turns, 4) if turns else None,
        "errors_by_kind": dict(by_kind),
        "errors_recovered": sum(1 for e in errors if e["recovered"]),
        "response_ms": section("response"),
        "node_ms": section("node"),
        "extensions": {
            name: {**percentiles(groups["extension", name]), "success_rate": round(sum(oks) / len(oks), 4)}
            for name, oks in sorted(extension_ok.items())
        },
        "memory_ms": section("memory"),
    }


class Telemetry:
    """Turn events and final states into rows, queued for a background writer thread."""

    def __init__(self, store: TelemetryStore, retention_days: int, capacity: int = 10_000) -> None:
        self.store = store
        self.queue: queue.Queue[tuple[list[Metric], list[ErrorRecord]] | threading.Event | None] = queue.Queue(
            capacity
        )  # bounded: a stuck writer (a full disk) costs dropped rows, never memory or a blocked turn
        self.dropped = 0
        try:
            removed = store.prune(retention_days)
            if removed:
                log.info("telemetry: removed %d rows older than %d days", removed, retention_days)
        except Exception as exc:  # telemetry must never stop Sena from starting
            log.warning("telemetry retention failed: %s", exc)
        self.writer = threading.Thread(target=self._drain, name="sena-telemetry", daemon=True)
        self.writer.start()

    def record(self, metrics: list[Metric], errors: list[ErrorRecord] | None = None) -> None:
        try:
            self.queue.put_nowait((metrics, errors or []))
        except queue.Full:
            self.dropped += 1

    def turn(self, thread_id: str, values: dict[str, Any], events: list[dict[str, Any]], wall_ms: float) -> None:
        """Record a finished turn from its final state and the events it streamed."""
        errors = list(values.get("errors") or [])
        intent = values.get("intent") or {}
        timings: dict[str, float] = values.get("timings") or {}
        metrics = [Metric("turn_ms", wall_ms, ok=not errors, thread_id=thread_id)]
        metrics += [Metric("node_ms", ms, node=node, thread_id=thread_id) for node, ms in timings.items()]
        if "generate" in timings:
            role, model = intent.get("recommended_model"), values.get("model_used")
            metrics.append(Metric("response_ms", timings["generate"], role=role, model=model, thread_id=thread_id))
        metrics += [
            Metric("extension_ms", r["duration_ms"], subject=r["name"], ok=r["ok"], thread_id=thread_id)
            for r in values.get("extension_results") or []
        ]
        metrics += [
            Metric("memory_search_ms", e["ms"], thread_id=thread_id)
            for e in events
            if e.get("event") == "memory_search" and "ms" in e
        ]
        recovered = {e.get("node") for e in events if e.get("event") == "recovered"}
        records = [
            ErrorRecord(
                e.get("kind", "internal"), e["error"], e["message"], e["node"] in recovered, e["node"], thread_id
            )
            for e in errors
        ]
        self.record(metrics, records)

    def failure(self, thread_id: str, error: SenaError) -> None:
        """Record a turn that stopped."""
        self.record([], [ErrorRecord(error.kind, type(error).__name__, str(error), False, None, thread_id)])

    def memory_write(self, event: dict[str, Any]) -> None:
        """A learner listener: time each memory write."""
        if "ms" in event:
            self.record([Metric("memory_write_ms", event["ms"], subject=event.get("action"))])

    def _drain(self) -> None:
        stopping = False
        while not stopping:
            metrics: list[Metric] = []
            errors: list[ErrorRecord] = []
            flushed: list[threading.Event] = []
            item = self.queue.get()  # wait for the first, then batch whatever else is waiting
            while True:
                if item is None:
                    stopping = True
                elif isinstance(item, threading.Event):
                    flushed.append(item)
                else:
                    metrics += item[0]
                    errors += item[1]
                if self.queue.empty():
                    break
                item = self.queue.get()
            if metrics or errors:
                try:
                    self.store.write(metrics, errors)
                except Exception as exc:  # a telemetry sink must never break a turn
                    log.warning("telemetry write failed (%d rows dropped): %s", len(metrics) + len(errors), exc)
            for event in flushed:
                event.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written; False if that took over `timeout`."""
        written = threading.Event()
        self.queue.put(written)
        return written.wait(timeout)

    def close(self) -> None:
        self.queue.put(None)
        self.writer.join(timeout=5)
        self.store.close()
