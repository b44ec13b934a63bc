"""Threads (sessions): the list, and one thread with its turns."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException

from api.deps import SenaDep

router = APIRouter(prefix="/threads", tags=["threads"])


@router.get("")
async def threads(sena: SenaDep) -> list[dict[str, Any]]:
    log = sena.services.log
    return [asdict(t) for t in await asyncio.to_thread(log.threads)] if log else []


@router.get("/{thread_id}")
async def thread(thread_id: str, sena: SenaDep) -> dict[str, Any]:
    log = sena.services.log
    summaries = {t.thread_id: t for t in await asyncio.to_thread(log.threads)} if log else {}
    if thread_id not in summaries:
        raise HTTPException(404, f"No thread {thread_id!r}. GET /api/v1/threads lists them.")
    turns = await asyncio.to_thread(log.turns, thread_id) if log else []
    return {**asdict(summaries[thread_id]), "turns": [asdict(t) for t in turns]}
