"""Threads (sessions): the list, and one thread with its turns."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from api.deps import SenaDep
from api.params import ID_PATTERN
from graph import time_travel as T
from graph.builder import build_graph
from graph.thread_files import export_session, to_markdown

ThreadIdPath = Annotated[str, Path(pattern=ID_PATTERN)]

router = APIRouter(prefix="/threads", tags=["threads"])


@router.get("")
async def threads(
    sena: SenaDep,
    q: Annotated[str | None, Query(max_length=200, description="Words the title, tags or a turn contain.")] = None,
    status: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """Threads, most recently used first; `q` matches the title, a tag or what was said in a turn."""
    log = sena.services.log
    if log is None:
        return []
    found = await asyncio.to_thread(log.threads)
    if status:
        found = [t for t in found if t.status == status]
    if tag:
        found = [t for t in found if tag in t.tags]
    if q:
        words = q.lower()
        said = {t.thread_id for t in await asyncio.to_thread(log.search, q, 500)}
        found = [
            t
            for t in found
            if t.thread_id in said or words in (t.title or "").lower() or any(words in g.lower() for g in t.tags)
        ]
    return [asdict(t) for t in found]


@router.get("/{thread_id}")
async def thread(thread_id: ThreadIdPath, sena: SenaDep) -> dict[str, Any]:
    log = sena.services.log
    summaries = {t.thread_id: t for t in await asyncio.to_thread(log.threads)} if log else {}
    if thread_id not in summaries:
        raise HTTPException(404, f"No thread {thread_id!r}. GET /api/v1/threads lists them.")
    turns = await asyncio.to_thread(log.turns, thread_id) if log else []
    return {**asdict(summaries[thread_id]), "turns": [asdict(t) for t in turns]}


class ReplayRequest(BaseModel):
    checkpoint: str = Field(min_length=4, max_length=64, pattern=r"^[0-9a-f-]+$")
    mode: Literal["recorded", "live"] = "recorded"


class ForkRequest(BaseModel):
    checkpoint: str = Field(min_length=4, max_length=64, pattern=r"^[0-9a-f-]+$")
    values: dict[str, Any] = Field(description='State keys to set, e.g. {"intent": "system_info"}.')
    as_node: str | None = Field(default=None, pattern=r"^[a-z_]+$")


def looked_up(exc: Exception) -> HTTPException:
    return HTTPException(404 if isinstance(exc, LookupError) else 422, str(exc))


@router.get("/{thread_id}/turns")
async def turns(
    thread_id: ThreadIdPath,
    sena: SenaDep,
    limit: Annotated[int, Query(ge=1, le=500, description="Turns per page.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Newest turns to skip (0: the latest page).")] = 0,
) -> list[dict[str, Any]]:
    """A page of the thread's turns, oldest first; older pages with a larger offset."""
    return [t.summary() for t in await T.list_turns(sena.graph, thread_id, limit=limit, offset=offset)]


@router.get("/{thread_id}/turns/{turn}")
async def turn(thread_id: ThreadIdPath, turn: int, sena: SenaDep) -> dict[str, Any]:
    """A turn step by step: each node's inputs, update, timing and errors, and the calls it made
    (the prompt each model was sent and what it answered, extension inputs and outputs, memory
    searches), from the turn's recordings."""
    try:
        found = await T.find_turn(sena.graph, thread_id, turn)
    except LookupError as exc:
        raise looked_up(exc) from exc
    recorder = sena.services.recorder
    calls = await asyncio.to_thread(recorder.for_turn, found.key) if recorder is not None and found.key else []
    detail: dict[str, Any] = T.plain(found.detail(calls))
    return detail


@router.get("/{thread_id}/branches")
async def thread_branches(thread_id: ThreadIdPath, sena: SenaDep) -> list[dict[str, Any]]:
    """Every branch of the thread (forks included): its head checkpoint, the current one first."""
    return await T.branches(sena.graph, thread_id)


@router.get("/{thread_id}/export", response_model=None)
async def export(
    thread_id: ThreadIdPath, sena: SenaDep, format: Literal["json", "markdown"] = "json"
) -> dict[str, Any] | PlainTextResponse:
    """The thread as importable JSON (`sena threads import`) or as a Markdown transcript."""
    try:
        data = await export_session(sena, thread_id)
    except LookupError as exc:
        raise looked_up(exc) from exc
    if format == "json":
        return data
    headers = {"Content-Disposition": f'attachment; filename="{thread_id}.md"'}
    return PlainTextResponse(to_markdown(data), media_type="text/markdown", headers=headers)


@router.post("/{thread_id}/replay")
async def replay(thread_id: ThreadIdPath, body: ReplayRequest, sena: SenaDep) -> dict[str, Any]:
    """Re-run a turn from a checkpoint in a scratch copy: `recorded` needs no model; the thread is untouched."""
    try:
        result = await T.replay(
            sena.graph,
            lambda saver: build_graph(sena.services, saver),
            thread_id,
            body.checkpoint,
            body.mode,
            sena.services.settings.app.user_id,
        )
    except (LookupError, ValueError) as exc:
        raise looked_up(exc) from exc
    payload = {k: v for k, v in result.__dict__.items() if k != "events"}
    return {**payload, "identical": result.identical}


@router.post("/{thread_id}/fork")
async def fork(thread_id: ThreadIdPath, body: ForkRequest, sena: SenaDep) -> dict[str, Any]:
    """Write edited state onto a past checkpoint as a new branch and continue from it."""
    try:
        head, events = await sena.fork(thread_id, body.checkpoint, body.values, body.as_node)
    except (LookupError, ValueError) as exc:
        raise looked_up(exc) from exc
    return {
        "head": head,
        "ran": [e["node"] for e in events if e["event"] == "node_end"],
        "answer": "".join(e["text"] for e in events if e["event"] == "token"),
        "branches": await T.branches(sena.graph, thread_id),
    }
