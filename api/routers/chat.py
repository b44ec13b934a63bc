"""Chat: one turn as JSON, or streamed over SSE (tokens and node events); a thread's history."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from api.deps import SenaDep, SettingsDep
from api.params import ThreadIdField, ThreadIdQuery
from config.errors import turn_failure
from graph.session import Sena

log = logging.getLogger(__name__)
router = APIRouter(prefix="/chat", tags=["chat"])


ContextValue = Annotated[str, Field(max_length=500)] | int | float | bool


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=8000, description="What the user says.")
    thread_id: ThreadIdField = "default"
    model_overrides: dict[str, str] = Field(default_factory=dict, description="role -> model name, this turn only")
    extensions: list[str] = Field(default_factory=list, max_length=5, description="Extensions to run by name.")
    context: dict[Annotated[str, Field(max_length=64)], ContextValue] = Field(
        default_factory=dict,
        max_length=20,
        description='Facts about this request from the client app, given to the model (e.g. {"location": "Lyon"}).',
    )
    mode: Literal["fast", "critical", "code"] | None = Field(
        default=None, description="Which model role answers; by default the intent's."
    )


class ChatMetadata(BaseModel):
    model_used: str
    processing_time: float = Field(description="Seconds, from the request to the answer.")
    extensions_used: list[str]
    memory_retrieved: int = Field(description="How many memories and past exchanges the answer saw.")


class ChatAnswer(BaseModel):
    response: str = Field(description="The answer (the blueprint's name; `answer` holds the same).")
    metadata: ChatMetadata
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
async def chat(request: ChatRequest, sena: SenaDep) -> ChatAnswer:
    """Run one turn and answer with the reply and what went into it."""
    started = time.perf_counter()
    done: dict[str, Any] = {}
    async for event in sena.turn(
        request.thread_id,
        request.message,
        request.model_overrides,
        tuple(request.extensions),
        resumed_tokens=False,
        mode=request.mode,
        context=request.context,
    ):
        if event["event"] == "turn_end":
            done = event
    return ChatAnswer(**answer_fields(done, started))


@router.post("/stream")
async def chat_stream(request: ChatRequest, sena: SenaDep, settings: SettingsDep) -> EventSourceResponse:
    """Run one turn over SSE: `token` events, node events, then `done` with the metadata."""
    turn = sena.turn(
        request.thread_id,
        request.message,
        request.model_overrides,
        tuple(request.extensions),
        mode=request.mode,
        context=request.context,
    )
    return EventSourceResponse(streamed(sena, request.thread_id, request.message, turn), ping=settings.api.heartbeat_s)


class ResumeRequest(BaseModel):
    thread_id: ThreadIdField = "default"


@router.post("/resume")
async def resume(request: ResumeRequest, sena: SenaDep, settings: SettingsDep) -> EventSourceResponse:
    """Finish the thread's turn a crash cut short, if it has one, over SSE (`turn_resumed`, its
    tokens and node events); then `done`. A thread with nothing to finish sends only `done`."""
    turn = sena.turn(request.thread_id, None)
    return EventSourceResponse(streamed(sena, request.thread_id, None, turn), ping=settings.api.heartbeat_s)


async def streamed(
    sena: Sena, thread_id: str, message: str | None, turn: AsyncIterator[dict[str, Any]]
) -> AsyncIterator[dict[str, str]]:
    """A turn's events as SSE, ending with `done` (the metadata) or `error` (what went wrong)."""
    started = time.perf_counter()
    done: dict[str, Any] = {"thread_id": thread_id}
    try:
        async for event in turn:
            if event["event"] == "turn_end":
                done = event
            yield {"event": event["event"], "data": json.dumps(event, default=str)}
    except Exception as exc:  # the checkpoint keeps the message (unless the disk is full); the client is told
        log.warning("turn on %s failed: %s", thread_id, exc)
        saved = message is None or await sena.saved(thread_id, message)
        yield {"event": "error", "data": json.dumps(turn_failure(exc, saved=saved).to_dict())}
        return
    yield {"event": "done", "data": json.dumps(answer_fields(done, started), default=str)}


def answer_fields(turn_end: dict[str, Any], started: float) -> dict[str, Any]:
    """The `turn_end` event's summary as the answer's fields, timed from the request (queueing
    included), with the blueprint's `response` and `metadata` beside today's fields."""
    fields = {k: v for k, v in turn_end.items() if k != "event"}
    seconds = time.perf_counter() - started
    metadata = {
        "model_used": fields.get("model_used", ""),
        "processing_time": round(seconds, 3),
        "extensions_used": [e["name"] for e in fields.get("extensions_used") or []],
        "memory_retrieved": len(fields.get("memories") or []),
    }
    answer = fields.get("answer", "")
    return {**fields, "response": answer, "metadata": metadata, "processing_ms": round(seconds * 1000, 1)}


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
