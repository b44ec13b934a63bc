"""`sena bench database`: SQLite read and write latency on Sena's own tables, in a scratch file.

- checkpoint write / read: the LangGraph SQLite checkpointer storing and loading a checkpoint
  of a 20-message conversation (what every node of every turn pays);
- telemetry write: one turn's batch of metric rows;
- thread list: the conversation log's thread index with 200 threads (`sena threads list`).
The file lives in a temporary folder on the same drive as the data folder, so the drive is measured too.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from bench.extensions import summary
from config.settings import Settings
from storage.conversation_log import ConversationLog
from storage.telemetry import Metric, TelemetryStore


def conversation(turns: int = 10) -> list[Any]:
    messages: list[Any] = []
    for i in range(turns):
        messages.append(HumanMessage(f"Question {i}: what should I cook tonight with rice and beans?", id=f"h{i}"))
        messages.append(AIMessage(f"Answer {i}: a rice and bean bowl with lime, coriander and chili. " * 3, id=f"a{i}"))
    return messages


async def timed(samples: int, work: Callable[[int], Awaitable[Any]]) -> list[float]:
    times = []
    for i in range(samples):
        started = time.perf_counter()
        await work(i)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(folder: Path, samples: int) -> dict[str, Any]:
    path = folder / "bench.db"
    report: dict[str, Any] = {}
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        config: Any = {"configurable": {"thread_id": "bench", "checkpoint_ns": ""}}
        messages = conversation()

        async def write(i: int) -> None:
            checkpoint = empty_checkpoint()
            checkpoint["id"] = str(uuid6(clock_seq=i))  # ordered ids, as LangGraph makes them
            checkpoint["channel_values"] = {"messages": messages, "answer": f"answer {i}"}
            await saver.aput(config, checkpoint, {"source": "loop", "step": i}, {})

        report["checkpoint_write_ms"] = summary(await timed(samples, write))
        report["checkpoint_read_ms"] = summary(await timed(samples, lambda _i: saver.aget_tuple(config)))
    store = TelemetryStore.from_path(path)
    log = ConversationLog.from_path(path)
    try:
        rows = [Metric("node_ms", 1.0, node=f"n{k}") for k in range(8)]
        report["telemetry_write_ms"] = summary(
            await timed(samples, lambda _i: asyncio.to_thread(store.write, rows, []))
        )
        for t in range(200):
            log.touch_thread(f"thread-{t}", title=f"Thread {t}")
        report["thread_list_ms"] = summary(await timed(samples, lambda _i: asyncio.to_thread(log.threads)))
    finally:
        store.close()
        log.close()
    report["file_kb"] = round(path.stat().st_size / 1024, 1)
    return report


def run(settings: Settings, samples: int = 200) -> dict[str, Any]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bench-db-", dir=settings.data_dir) as tmp:
        return asyncio.run(measure(Path(tmp), samples))
