"""Debug: a thread's checkpointed state, recent logs, and the live SSE feed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from sse_starlette.sse import EventSourceResponse

from api.deps import BusDep, LogsDep, SenaDep, SettingsDep
from api.event_bus import LEVELS
from api.params import ID_PATTERN, ThreadIdQuery
from graph.time_travel import plain

router = APIRouter(prefix="/debug", tags=["debug"])
Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@router.get("/state")
async def state(sena: SenaDep, thread_id: ThreadIdQuery) -> dict[str, Any]:
    snapshot = await sena.state(thread_id)
    if not snapshot.values:
        raise HTTPException(404, f"No state for thread {thread_id!r}.")
    return {
        "thread_id": thread_id,
        "checkpoint_id": snapshot.config.get("configurable", {}).get("checkpoint_id"),
        "next": list(snapshot.next),
        "values": plain(snapshot.values),
    }


@router.get("/logs")
async def logs(
    store: LogsDep,
    level: Level = "INFO",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    q: Annotated[str | None, Query(max_length=200, description="Text the message or logger contains.")] = None,
    since: Annotated[datetime | None, Query(description="From this time on (ISO 8601, local time).")] = None,
    until: Annotated[datetime | None, Query(description="Up to this time (ISO 8601, local time).")] = None,
) -> list[dict[str, Any]]:
    """Log records kept in the database (`logging.store_level` and up), newest `limit`, oldest first.
    Live records come over /debug/stream."""
    return await asyncio.to_thread(store.query, LEVELS[level], limit, q, since, until)


@router.get("/stream")
async def stream(
    bus: BusDep,
    settings: SettingsDep,
    thread_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    level: Level = "WARNING",
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Every node start/end/error, memory and extension event, and log records at `level` or above."""
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None

    async def events() -> AsyncIterator[dict[str, Any]]:
        async for event in bus.subscribe(after=after, thread_id=thread_id, log_level=level):
            yield {"id": str(event.id), "event": event.name, "data": json.dumps(event.data, default=str)}

    return EventSourceResponse(events(), ping=settings.api.heartbeat_s)
