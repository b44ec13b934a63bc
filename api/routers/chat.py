"""Chat: one turn as JSON, or streamed over SSE (tokens and node events); a thread's history."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from api.deps import RunnerDep, SenaDep, SettingsDep
from api.params import ThreadIdField, ThreadIdQuery
from ops.errors import turn_failure

log = logging.getLogger(__name__)
router = APIRouter(prefix="/chat", tags=["chat"])


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=8000, description="What the user says.")
    thread_id: ThreadIdField = "default"
    model_overrides: dict[str, str] = Field(default_factory=dict, description="role -> model name, this turn only")
    extensions: list[str] = Field(default_factory=list, max_length=5, description="Extensions to run by name.")


class ChatAnswer(BaseModel):
    thread_id: str
    answer: str
    model_used: str
    processing_ms: float
    intent: str | None
    memory_reason: str | None
    memories: list[dict[str, Any]]
    extensions_used: list[dict[str, Any]]
    errors: list[dict[str, Any]]
    timings_ms: dict[str, float]


class HistoryMessage(BaseModel):
    role: str
    content: str
    ts: float | None = None


@router.post("")
async def chat(request: ChatRequest, runner: RunnerDep) -> ChatAnswer:
    """Run one turn and answer with the reply and what went into it."""
    started = time.perf_counter()
    async for _ in runner.stream(
        request.thread_id, request.message, request.model_overrides, tuple(request.extensions)
    ):
        pass
    return ChatAnswer(**await runner.summary(request.thread_id, started))


@router.post("/stream")
async def chat_stream(request: ChatRequest, runner: RunnerDep, settings: SettingsDep) -> EventSourceResponse:
    """Run one turn over SSE: `token` events, node events, then `done` with the metadata."""

    async def events() -> AsyncIterator[dict[str, str]]:
        started = time.perf_counter()
        try:
            async for event in runner.stream(
                request.thread_id, request.message, request.model_overrides, tuple(request.extensions)
            ):
                yield {"event": event["event"], "data": json.dumps(event, default=str)}
        except Exception as exc:  # the checkpoint keeps the message (unless the disk is full); the client is told
            log.warning("turn on %s failed: %s", request.thread_id, exc)
            failure = turn_failure(exc, saved=await runner.sena.saved(request.thread_id, request.message))
            yield {"event": "error", "data": json.dumps(failure.to_dict())}
            return
        yield {"event": "done", "data": json.dumps(await runner.summary(request.thread_id, started), default=str)}

    return EventSourceResponse(events(), ping=settings.api.heartbeat_s)


@router.get("/history")
async def history(
    sena: SenaDep,
    thread_id: ThreadIdQuery,
    limit: Annotated[int | None, Query(ge=1, le=10_000, description="Only the latest turns' messages.")] = None,
) -> list[HistoryMessage]:
    """The thread's messages, oldest first (with `limit`, those of the latest `limit` turns)."""
    return [
        HistoryMessage(
            role="user" if isinstance(m, HumanMessage) else "assistant",
            content=m.text,
            ts=m.additional_kwargs.get("ts"),
        )
        for m in await sena.messages(thread_id, limit)
    ]
