"""Telemetry: the summary `sena stats` prints, and recent failures, from the telemetry tables."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import SenaDep
from bench.history import BenchHistory, compare
from storage.telemetry import Telemetry

router = APIRouter(prefix="/telemetry", tags=["telemetry"])

Days = Annotated[float, Query(gt=0, le=3650, description="How many days back to summarise.")]


def telemetry_of(sena: SenaDep) -> Telemetry:
    telemetry = sena.services.telemetry
    if telemetry is None:
        raise HTTPException(404, "Telemetry is off (telemetry.enabled: false in config/settings.yaml).")
    return telemetry


@router.get("/metrics")
async def metrics(sena: SenaDep, days: Days = 7) -> dict[str, Any]:
    """Turn and response times (per role and model), node timings, error rate, extension success
    rates and memory latencies over the last `days`."""
    telemetry = telemetry_of(sena)
    await asyncio.to_thread(telemetry.flush)
    return {"days": days, **await asyncio.to_thread(telemetry.store.summary, time.time() - days * 86400)}


@router.get("/errors")
async def errors(
    sena: SenaDep, days: Days = 7, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The latest failures, oldest first, with their kind and whether the turn recovered."""
    telemetry = telemetry_of(sena)
    await asyncio.to_thread(telemetry.flush)
    rows = await asyncio.to_thread(telemetry.store.errors, time.time() - days * 86400, limit)
    return [{**row, "recovered": bool(row["recovered"])} for row in rows]


@router.get("/series")
async def series(
    sena: SenaDep,
    days: Days = 1,
    buckets: Annotated[int, Query(ge=2, le=500, description="Points per series.")] = 60,
) -> dict[str, Any]:
    """Metrics over time, for charts: response time per role and model, node time (median and
    p95), errors per kind, extension success, memory latency, and the host's CPU, memory and
    disk use. `t` gives each bucket's start; every series has one value (or null) per bucket."""
    telemetry = telemetry_of(sena)
    await asyncio.to_thread(telemetry.flush)
    now = time.time()
    return {"days": days, **await asyncio.to_thread(telemetry.store.series, now - days * 86400, now, buckets)}


@router.get("/benchmarks")
async def benchmarks(sena: SenaDep, sessions: Annotated[int, Query(ge=1, le=50)] = 10) -> list[dict[str, Any]]:
    """Every `sena bench` suite's kept runs (newest first) and how the latest compares with the
    one before it, regressions marked (bench.regression_pct)."""
    telemetry = telemetry_of(sena)
    history = BenchHistory(telemetry.store, sena.services.settings.bench)
    suites = []
    for suite in await asyncio.to_thread(telemetry.store.benchmark_suites):
        runs = await asyncio.to_thread(history.sessions, suite, sessions)
        changes = compare(suite, runs[1].metrics, runs[0].metrics, history.config) if len(runs) > 1 else []
        suites.append(
            {
                "suite": suite,
                "runs": [{"session_id": r.session_id, "ts": r.ts, "metrics": r.metrics} for r in runs],
                "changes": [asdict(c) for c in changes],
                "regressions": sum(c.regression for c in changes),
            }
        )
    return suites
