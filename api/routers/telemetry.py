"""Telemetry from what Sena already records: the conversation log and the extension registry.

Per-role and per-node timing tables and retention come with the telemetry store (a later
capability); until then these figures are computed from finished turns.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import SenaDep

router = APIRouter(prefix="/telemetry", tags=["telemetry"])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


@router.get("/metrics")
async def metrics(sena: SenaDep) -> dict[str, Any]:
    log = sena.services.log
    turns = []
    if log is not None:
        for thread in await asyncio.to_thread(log.threads):
            turns += await asyncio.to_thread(log.turns, thread.thread_id)
    times = [t.processing_ms for t in turns if t.processing_ms is not None]
    host = sena.services.extensions
    records = host.records() if hasattr(host, "records") else []
    return {
        "turns": len(turns),
        "turn_ms": {
            "p50": percentile(times, 0.5),
            "p95": percentile(times, 0.95),
            "mean": round(statistics.fmean(times), 1) if times else None,
        },
        "turns_with_errors": sum(1 for t in turns if t.errors),
        "by_model": dict(Counter(t.model_used or "none" for t in turns)),
        "by_intent": dict(Counter(t.intent or "none" for t in turns)),
        "extensions": {r.name: {"executions": r.executions, "errors": r.errors, "status": r.status} for r in records},
    }


@router.get("/errors")
async def errors(sena: SenaDep, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    log = sena.services.log
    found: list[dict[str, Any]] = []
    if log is not None:
        for thread in await asyncio.to_thread(log.threads):
            for turn in await asyncio.to_thread(log.turns, thread.thread_id):
                found += [{"thread_id": turn.thread_id, **error} for error in turn.errors]
    return found[-limit:]
