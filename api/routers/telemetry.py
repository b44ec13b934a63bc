"""Telemetry: the summary `sena stats` prints, and recent failures, from the telemetry tables."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from api.deps import SenaDep
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
