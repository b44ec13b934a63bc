"""`sena bench long`: what a months-long thread costs, turn after turn.

N turns on one thread with an instant scripted model (so the figures are the graph's own), the
configured checkpointer (SQLite by default, PostgreSQL by configuration) and memory as
configured. At each mark (10, 100, 500, 1,000 turns) it reports, over the last (up to) 50 turns
before the mark: the per-turn time without model time (p50, p95), and the graph's own overhead,
which also leaves out the extensions' run time (the question set asks about the CPU now and then,
and `system_info` samples it for 100 ms). Then the database's size, the bytes each turn added
since the previous mark, and the checkpoint rows. Five warm-up turns on another thread come first.
Growth, not a single value, is the point: a flat per-turn time and a constant number of bytes
per turn mean a thread can live for years.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.turn import QUESTIONS, InstantModels, bench_settings, pct, timed_turn
from config.settings import Settings
from graph.session import Sena, open_sena

MARKS = (10, 100, 500, 1000)
WINDOW = 50  # turns before each mark that its times describe


async def database_size(sena: Sena, settings: Settings) -> tuple[int, int]:
    """Bytes the conversation state takes, and its checkpoint rows."""
    if settings.database.checkpointer == "postgres":
        saver: Any = sena.graph.checkpointer
        async with saver.conn.connection() as conn:
            tables = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
            size = sum(
                [
                    (await (await conn.execute("SELECT pg_total_relation_size(%s) AS n", (t,))).fetchone())["n"]
                    for t in tables
                ]
            )
            rows = (await (await conn.execute("SELECT COUNT(*) AS n FROM checkpoints")).fetchone())["n"]
        return int(size), int(rows)
    path = settings.database_path
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    saver = sena.graph.checkpointer
    await saver.setup()  # the tables appear with the first checkpoint otherwise
    async with saver.conn.execute("SELECT COUNT(*) FROM checkpoints") as cursor:
        (rows,) = await cursor.fetchone()
    return size, int(rows)


async def run(settings: Settings, turns: int = 1000, thread_id: str = "bench-long") -> dict[str, Any]:
    marks = [m for m in MARKS if m <= turns] or [turns]
    if marks[-1] != turns:
        marks.append(turns)
    report: dict[str, Any] = {"turns": turns, "checkpointer": settings.database.checkpointer, "marks": {}}
    with tempfile.TemporaryDirectory(prefix="sena-bench-long-") as tmp:
        scratch = bench_settings(settings, Path(tmp), max_tokens=16)
        scratch.intent_routing.use_router_model = False
        async with open_sena(scratch, models=InstantModels()) as sena:
            if scratch.database.checkpointer == "postgres":
                thread_id = f"{thread_id}-{int(time.time())}"  # the server outlives the scratch folder
            for i in range(5):
                await timed_turn(sena, f"{thread_id}-warmup", QUESTIONS[i])
            previous_size, _ = await database_size(sena, scratch)
            previous_mark, times, overheads = 0, [], []
            for i in range(1, turns + 1):
                sample = await timed_turn(sena, thread_id, f"{QUESTIONS[i % len(QUESTIONS)]} ({i})")
                times.append(sample.wall_ms - sample.model_ms)
                overheads.append(times[-1] - sample.nodes.get("run_extensions", 0.0))
                if i in marks:
                    size, rows = await database_size(sena, scratch)
                    recent, graph = times[-WINDOW:], overheads[-WINDOW:]
                    report["marks"][str(i)] = {
                        "turn_ms_p50": round(statistics.median(recent), 2),
                        "turn_ms_p95": round(pct(recent, 0.95), 2),
                        "overhead_ms_p50": round(statistics.median(graph), 2),
                        "overhead_ms_p95": round(pct(graph, 0.95), 2),
                        "db_bytes": size,
                        "bytes_per_turn": round((size - previous_size) / (i - previous_mark)),
                        "checkpoint_rows": rows,
                    }
                    previous_size, previous_mark = size, i
    first, last = report["marks"][str(marks[0])], report["marks"][str(marks[-1])]
    report["growth"] = {
        "turn_ms_p50_ratio": round(last["turn_ms_p50"] / first["turn_ms_p50"], 2) if first["turn_ms_p50"] else None,
        "overhead_ms_p50_ratio": round(last["overhead_ms_p50"] / first["overhead_ms_p50"], 2),
        "db_mb": round(last["db_bytes"] / 2**20, 1),
    }
    return report
