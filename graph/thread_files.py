"""Sessions (threads) as files: JSON that imports back losslessly, and a readable Markdown transcript.

The JSON holds the thread's metadata (title, status, tags, times), every message on its
current branch (type, text, id, time, model) and the conversation log's turn records. Importing
writes the messages into a new (or given) thread's checkpoint and the turns into the log, so
exporting the imported thread gives the same document back (apart from its thread id).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig

from graph.session import Sena
from storage.conversation_log import TurnRecord

FORMAT = "sena-session/1"


def message_record(message: BaseMessage) -> dict[str, Any]:
    return {
        "type": message.type,
        "content": message.text,
        "id": message.id,
        "ts": message.additional_kwargs.get("ts"),
        "model": message.response_metadata.get("model"),
    }


def message_from(record: dict[str, Any]) -> BaseMessage:
    kwargs = {"ts": record["ts"]} if record.get("ts") is not None else {}
    if record["type"] == "human":
        return HumanMessage(content=record["content"], id=record["id"], additional_kwargs=kwargs)
    metadata = {"model": record["model"]} if record.get("model") else {}
    return AIMessage(content=record["content"], id=record["id"], additional_kwargs=kwargs, response_metadata=metadata)


async def export_session(sena: Sena, thread_id: str) -> dict[str, Any]:
    log = sena.services.log
    summary = await asyncio.to_thread(log.thread, thread_id) if log else None
    messages = await sena.messages(thread_id)
    if summary is None and not messages:
        raise LookupError(f"no thread {thread_id!r}; `sena threads` lists them")
    turns = await asyncio.to_thread(log.turns, thread_id) if log else []
    return {
        "format": FORMAT,
        "thread_id": thread_id,
        "title": summary.title if summary else None,
        "status": summary.status if summary else "active",
        "tags": list(summary.tags) if summary else [],
        "created_at": summary.created_at if summary else None,
        "updated_at": summary.updated_at if summary else None,
        "messages": [message_record(m) for m in messages if isinstance(m, (HumanMessage, AIMessage))],
        "turns": [{k: v for k, v in asdict(t).items() if k != "thread_id"} for t in turns],
    }


async def import_session(sena: Sena, data: dict[str, Any], thread_id: str | None = None) -> str:
    """Create a thread from an exported document; refuse to overwrite an existing one."""
    if data.get("format") != FORMAT:
        raise ValueError(f"not a Sena session export (format {data.get('format')!r}, expected {FORMAT})")
    target = thread_id or str(data["thread_id"])
    if await sena.messages(target):
        raise ValueError(f"thread {target!r} already exists; import under another id with --as NAME")
    messages = [message_from(m) for m in data["messages"]]
    if messages:
        config: RunnableConfig = {"configurable": {"thread_id": target}}
        await sena.graph.aupdate_state(config, {"messages": messages}, as_node="extract_learnings")
    log = sena.services.log
    if log is not None:
        for turn in data["turns"]:
            record = TurnRecord(
                thread_id=target,
                **{
                    **turn,
                    "extensions_used": tuple(turn["extensions_used"]),
                    "memories_used": tuple(turn["memories_used"]),
                    "errors": tuple(turn["errors"]),
                },
            )
            await asyncio.to_thread(log.record_turn, record)
        await asyncio.to_thread(
            log.describe,
            target,
            title=data.get("title"),
            status=data.get("status"),
            tags=data.get("tags") or [],
            created_at=data.get("created_at"),
            updated_at=data.get("updated_at"),
        )
    return target


def to_markdown(data: dict[str, Any]) -> str:
    """A human-readable transcript with the session's metadata."""
    lines = [
        f"# {data.get('title') or data['thread_id']}",
        "",
        f"- thread: `{data['thread_id']}`",
        f"- status: {data.get('status')}",
        f"- tags: {', '.join(data.get('tags') or []) or 'none'}",
        f"- created: {data.get('created_at')}; last active: {data.get('updated_at')}",
        f"- turns: {len(data.get('turns') or [])}",
        "",
    ]
    turns = iter(data.get("turns") or [])
    for message in data["messages"]:
        if message["type"] == "human":
            turn = next(turns, None)
            details = f" · intent {turn['intent']}" if turn and turn.get("intent") else ""
            lines += [f"**You**{details}", "", message["content"], ""]
        else:
            model = f" ({message['model']})" if message.get("model") else ""
            lines += [f"**Sena**{model}", "", message["content"], ""]
    return "\n".join(lines)
