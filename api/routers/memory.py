"""Long-term memory: search, list, add, edit, delete, history."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.deps import MemoryDep, SenaDep, SettingsDep
from api.params import ID_PATTERN, UserIdQuery
from memory.store import MemoryNotFound

router = APIRouter(prefix="/memory", tags=["memory"])
UserId = UserIdQuery


class MemoryAdd(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    kind: str = Field(default="fact", pattern=r"^(fact|preference|event|relationship)$")
    user_id: str | None = Field(default=None, pattern=ID_PATTERN)


class MemoryEdit(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    text: str = Field(min_length=1, max_length=2000)


def not_found(exc: MemoryNotFound) -> HTTPException:
    return HTTPException(404, f"No memory with id {exc.memory_id!r}. GET /api/v1/memory lists them.")


@router.get("")
async def list_memories(
    store: MemoryDep,
    settings: SettingsDep,
    user_id: UserId = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    return [asdict(m) for m in await asyncio.to_thread(store.list, user_id or settings.app.user_id, limit)]


@router.get("/stats")
async def stats(store: MemoryDep, settings: SettingsDep, sena: SenaDep, user_id: UserId = None) -> dict[str, Any]:
    """How many memories there are by kind, the newest, and those answers used most."""
    everything = await asyncio.to_thread(store.list, user_id or settings.app.user_id, 10_000)
    by_kind: dict[str, int] = {}
    for memory in everything:
        by_kind[memory.kind] = by_kind.get(memory.kind, 0) + 1
    newest = sorted(everything, key=lambda m: m.created_at or "", reverse=True)[:10]
    log = sena.services.log
    counts = await asyncio.to_thread(log.retrieved_counts, 50) if log is not None else []
    texts = {m.id: m.text for m in everything}
    used = [{"id": i, "text": texts[i], "turns": n} for i, n in counts if i in texts][:10]
    return {"total": len(everything), "by_kind": by_kind, "recent": [asdict(m) for m in newest], "most_used": used}


@router.get("/search")
async def search(
    store: MemoryDep,
    settings: SettingsDep,
    q: Annotated[str, Query(min_length=1, max_length=1000)],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
    user_id: UserId = None,
) -> list[dict[str, Any]]:
    found = await asyncio.to_thread(store.search, q, user_id or settings.app.user_id, limit)
    return [asdict(m) for m in found]


@router.post("/add", status_code=201)
async def add(body: MemoryAdd, store: MemoryDep, settings: SettingsDep) -> dict[str, Any]:
    return asdict(await asyncio.to_thread(store.add, body.text, body.user_id or settings.app.user_id, body.kind))


@router.post("/edit")
async def edit(body: MemoryEdit, store: MemoryDep) -> dict[str, Any]:
    try:
        return asdict(await asyncio.to_thread(store.update, body.id, body.text))
    except MemoryNotFound as exc:
        raise not_found(exc) from exc


@router.delete("/{memory_id}")
async def delete(memory_id: str, store: MemoryDep) -> dict[str, str]:
    try:
        await asyncio.to_thread(store.delete, memory_id)
    except MemoryNotFound as exc:
        raise not_found(exc) from exc
    return {"deleted": memory_id}


@router.get("/{memory_id}/history")
async def history(memory_id: str, store: MemoryDep) -> list[dict[str, Any]]:
    try:
        return await asyncio.to_thread(store.history, memory_id)
    except MemoryNotFound as exc:
        raise not_found(exc) from exc
