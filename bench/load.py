"""Concurrent chats through the API on loopback, with an instant scripted model.

Starts the real app under uvicorn in this process, then `clients` clients each hold a
conversation of `turns` turns on their own thread, all at once. Reports latency percentiles
and counts what went wrong: non-200 answers, and turns missing from the checkpoints or the log.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import httpx

from api.app import create_app
from api.background import BackgroundServer
from bench.turn import pct
from config.settings import Settings
from providers.registry import ChatModels


async def conversation(client: httpx.AsyncClient, thread_id: str, turns: int, latencies: list[float]) -> int:
    failures = 0
    for i in range(turns):
        started = time.perf_counter()
        response = await client.post(
            "/api/v1/chat", json={"message": f"note {i} for {thread_id}", "thread_id": thread_id}
        )
        latencies.append((time.perf_counter() - started) * 1000)
        failures += response.status_code != 200
    return failures


async def load(url: str, clients: int, turns: int) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        failures = await asyncio.gather(*(conversation(client, f"load-{n}", turns, latencies) for n in range(clients)))
        wall = time.perf_counter() - started
        histories = await asyncio.gather(
            *(client.get("/api/v1/chat/history", params={"thread_id": f"load-{n}"}) for n in range(clients))
        )
        threads = (await client.get("/api/v1/threads")).json()
    lost_messages = sum(2 * turns - len(h.json()) for h in histories)
    logged = sum(t["turns"] for t in threads if t["thread_id"].startswith("load-"))
    return {
        "clients": clients,
        "turns": clients * turns,
        "failed_requests": sum(failures),
        "lost_messages": lost_messages,
        "turns_missing_from_log": clients * turns - logged,
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p95": round(pct(latencies, 0.95), 1),
        "turns_per_s": round(clients * turns / wall, 1),
    }


def run(settings: Settings, models: ChatModels, clients: int = 50, turns: int = 2) -> dict[str, Any]:
    with BackgroundServer(create_app(settings, models)) as url:
        return asyncio.run(load(url, clients, turns))
