"""Turns from checkpoints: list them, inspect each node's input and output, replay, fork.

A turn is the run of the graph for one user message: from the checkpoint where the message
came in (`source == "input"`) to the next one. Each later checkpoint's task carries the
update its node wrote, so a turn can be read back node by node. Replays run in a scratch
copy of the starting checkpoint (the thread itself is left as it was); forks write an edited
state into the thread as a new branch and continue from there.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import StateSnapshot

from graph.events import turn_key
from graph.state import SenaContext, last_user_text
from storage.checkpointer import count_turns_in_database
from storage.compaction import COMPACTED

NODES = ("classify_intent", "decide_memory", "retrieve", "run_extensions", "generate", "extract_learnings")
NODE_INPUTS: dict[str, tuple[str, ...]] = {
    "classify_intent": ("message",),
    "decide_memory": ("message", "intent"),
    "retrieve": ("message", "memory_plan"),
    "run_extensions": ("message", "intent"),
    "generate": ("message", "intent", "recent_ids", "snippets", "extension_results"),
    "extract_learnings": ("message", "intent", "answer", "errors"),
}
COMPARED = ("answer", "model_used", "intent", "memory_plan", "snippets", "extension_results", "errors")


def plain(value: Any) -> Any:
    """Make state JSON-friendly: messages become their type, text and id."""
    if isinstance(value, BaseMessage):
        return {"type": value.type, "content": value.text, "id": value.id}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def last_message(values: dict[str, Any]) -> str:
    return last_user_text(values)  # type: ignore[arg-type]


def checkpoint_id(snapshot: StateSnapshot) -> str:
    return str(snapshot.config["configurable"]["checkpoint_id"])


@dataclass
class Step:
    node: str
    checkpoint_id: str
    inputs: dict[str, Any]
    update: dict[str, Any]
    duration_ms: float | None
    errors: list[dict[str, Any]]


@dataclass
class Turn:
    index: int
    thread_id: str
    message: str
    created_at: str
    start_checkpoint: str
    checkpoints: list[str]
    steps: list[Step] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    compacted: bool = False  # an older turn kept as one checkpoint: its result, not its steps
    key: str = ""
    """The id of the message that opened the turn: what its recordings are keyed by."""

    @property
    def skipped(self) -> list[str]:
        ran = {s.node for s in self.steps}
        return [n for n in NODES if n not in ran]

    def summary(self) -> dict[str, Any]:
        intent = self.final.get("intent") or {}
        return {
            "turn": self.index,
            "created_at": self.created_at,
            "message": self.message,
            "intent": intent.get("intent_type"),
            "model": self.final.get("model_used"),
            "duration_ms": round(sum(s.duration_ms or 0 for s in self.steps), 1),
            "errors": len(self.final.get("errors") or []),
            "complete": self.complete,
            "compacted": self.compacted,
            "start_checkpoint": self.start_checkpoint,
        }

    def detail(self, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The turn step by step; with `calls` (its recordings), each step lists the model,
        extension and memory calls it made: what each was given and what it returned."""
        by_node: dict[str, list[dict[str, Any]]] = {}
        for call in calls or []:
            by_node.setdefault(call["node"], []).append(call)
        return {
            **self.summary(),
            "steps": [{**s.__dict__, "calls": by_node.get(s.node, [])} for s in self.steps],
            "skipped": self.skipped,
            "answer": self.final.get("answer"),
            "checkpoints": self.checkpoints,
        }


async def back_from(graph: Any, thread_id: str, head: str | None = None) -> AsyncIterator[StateSnapshot]:
    """The thread's checkpoints along one branch, newest first, read one at a time (the latest branch
    by default): a page of recent turns costs the same in a thread of ten turns or ten thousand."""
    configurable = {"thread_id": thread_id, **({"checkpoint_id": head} if head else {})}
    snapshot = await graph.aget_state({"configurable": configurable})
    while snapshot is not None and snapshot.created_at is not None:
        yield snapshot
        if not snapshot.parent_config:
            return
        snapshot = await graph.aget_state(snapshot.parent_config)


def opens_turn(snapshot: StateSnapshot) -> bool:
    metadata = snapshot.metadata or {}
    return bool(metadata.get(COMPACTED)) or metadata.get("source") == "input"


async def turns_back(graph: Any, thread_id: str) -> AsyncIterator[list[StateSnapshot]]:
    """The thread's turns newest first, each as its checkpoints oldest first."""
    current: list[StateSnapshot] = []
    async for snapshot in back_from(graph, thread_id):
        current.append(snapshot)
        if opens_turn(snapshot):
            yield list(reversed(current))
            current = []


async def turn_groups(graph: Any, thread_id: str, wanted: int | None = None) -> tuple[list[list[StateSnapshot]], bool]:
    """The newest `wanted` turns (all when None), oldest first; and whether that was all of them."""
    groups: list[list[StateSnapshot]] = []
    async for group in turns_back(graph, thread_id):
        groups.append(group)
        if wanted is not None and len(groups) >= wanted:
            return list(reversed(groups)), False
    return list(reversed(groups)), True


def inputs_for(node: str, values: dict[str, Any]) -> dict[str, Any]:
    view = {"message": last_message(values), **{k: values.get(k) for k in NODE_INPUTS[node] if k != "message"}}
    return plain({k: v for k, v in view.items() if k in NODE_INPUTS[node]})


def build_turn(index: int, thread_id: str, group: list[StateSnapshot]) -> Turn:
    """One turn from its checkpoints (oldest first): each later checkpoint's tasks are its steps."""
    first = group[0]
    cid = checkpoint_id(first)
    turn = Turn(index, thread_id, "", first.created_at or "", cid, [cid])
    if (first.metadata or {}).get(COMPACTED):
        turn.message, turn.final, turn.complete, turn.compacted = last_message(first.values), first.values, True, True
        return turn
    for snapshot in group[1:]:
        turn.checkpoints.append(checkpoint_id(snapshot))
        turn.message = turn.message or last_message(snapshot.values)
        turn.key = turn.key or turn_key(snapshot.values)  # type: ignore[arg-type]
        turn.final = snapshot.values
        turn.complete = not snapshot.next
        for task in snapshot.tasks:
            if task.name not in NODE_INPUTS:
                continue
            update = plain(task.result or {})
            errors = [e for e in update.get("errors") or [] if e.get("node") == task.name]
            timing = (update.get("timings") or {}).get(task.name)
            step = Step(
                task.name, checkpoint_id(snapshot), inputs_for(task.name, snapshot.values), update, timing, errors
            )
            turn.steps.append(step)
    return turn


async def count_turns(graph: Any, thread_id: str) -> int:
    """How many turns the thread's current branch has, counted in the database where it can be."""
    counted = await count_turns_in_database(graph.checkpointer, thread_id)
    if counted is not None:
        return counted
    groups, _ = await turn_groups(graph, thread_id)
    return len(groups)


async def list_turns(graph: Any, thread_id: str, limit: int | None = None, offset: int = 0) -> list[Turn]:
    """The thread's turns on its current branch, oldest first, each with its node steps.

    With `limit`, only a page: the `limit` turns before the newest `offset` ones, read from the
    newest checkpoint backwards, so the cost does not grow with the thread.
    """
    wanted = None if limit is None else offset + limit
    groups, whole = await turn_groups(graph, thread_id, wanted)
    total = len(groups) if whole else await count_turns(graph, thread_id)
    first_index = total - len(groups) + 1
    turns = [build_turn(first_index + i, thread_id, g) for i, g in enumerate(groups)]
    return turns[: len(turns) - offset] if offset else turns


async def find_turn(graph: Any, thread_id: str, index: int) -> Turn:
    total = await count_turns(graph, thread_id)
    if not 1 <= index <= total:
        raise LookupError(f"thread {thread_id!r} has {total} turns; `sena turns {thread_id}` lists them")
    return (await list_turns(graph, thread_id, limit=1, offset=total - index))[0]


async def turn_with_checkpoint(graph: Any, thread_id: str, checkpoint: str) -> Turn:
    """The turn holding `checkpoint` (an id or its prefix), walking back from the newest turn."""
    back = 0
    async for group in turns_back(graph, thread_id):
        if any(checkpoint_id(s).startswith(checkpoint) for s in group):
            return build_turn(await count_turns(graph, thread_id) - back, thread_id, group)
        back += 1
    raise LookupError(f"no checkpoint {checkpoint!r} in this thread; `sena inspect THREAD TURN` shows them")


def full_checkpoint(turn: Turn, checkpoint: str) -> str:
    return next(c for c in turn.checkpoints if c == checkpoint or c.startswith(checkpoint))


def _untimed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if k != "duration_ms"}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def diff(original: dict[str, Any], replayed: dict[str, Any]) -> list[dict[str, Any]]:
    """What differs between two final states, on the keys a user cares about (timings aside)."""
    changes = []
    for key in COMPARED:
        before, after = plain(original.get(key)), plain(replayed.get(key))
        if json.dumps(_untimed(before), sort_keys=True, default=str) != json.dumps(
            _untimed(after), sort_keys=True, default=str
        ):
            changes.append({"key": key, "original": before, "replayed": after})
    return changes


@dataclass
class Replay:
    mode: Literal["live", "recorded"]
    turn: int
    from_checkpoint: str
    answer: str
    original_answer: str
    changes: list[dict[str, Any]]
    divergences: list[str]
    events: list[dict[str, Any]]

    @property
    def identical(self) -> bool:
        return not self.changes


async def replay(
    graph: Any,
    build: Any,
    thread_id: str,
    checkpoint: str,
    mode: Literal["live", "recorded"],
    user_id: str = "local",
) -> Replay:
    """Re-run a turn from one of its checkpoints in a scratch copy; compare with the original.

    `build(checkpointer)` compiles the same graph over another checkpointer.
    """
    turn = await turn_with_checkpoint(graph, thread_id, checkpoint)
    start = full_checkpoint(turn, checkpoint)
    source = graph.checkpointer
    original = await source.aget_tuple({"configurable": {"thread_id": thread_id, "checkpoint_id": start}})
    scratch = InMemorySaver()
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    await scratch.aput(config, original.checkpoint, original.metadata, original.checkpoint["channel_versions"])
    copy = build(scratch)
    events: list[dict[str, Any]] = []
    run_config = {"configurable": {"thread_id": thread_id, "checkpoint_id": start}}
    context = SenaContext(thread_id=thread_id, user_id=user_id, replay=mode)
    async for event in _stream(copy, run_config, context):
        events.append(event)
    replayed = (await copy.aget_state({"configurable": {"thread_id": thread_id}})).values
    return Replay(
        mode=mode,
        turn=turn.index,
        from_checkpoint=start,
        answer=str(replayed.get("answer") or ""),
        original_answer=str(turn.final.get("answer") or ""),
        changes=diff(turn.final, replayed),
        divergences=[e["message"] for e in events if e["event"] == "replay_divergence"],
        events=events,
    )


async def _stream(graph: Any, config: dict[str, Any], context: SenaContext) -> AsyncIterator[dict[str, Any]]:
    async for event in graph.astream(None, config, context=context, stream_mode="custom"):
        yield event


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; values are JSON when they parse as JSON, else strings."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


async def fork(
    graph: Any, thread_id: str, checkpoint: str, values: dict[str, Any], as_node: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Write `values` onto a past checkpoint as a new branch and continue the turn from there.

    Return the new branch's first checkpoint id and the continuation's events; the original
    branch stays in the thread's history.
    """
    turn = await turn_with_checkpoint(graph, thread_id, checkpoint)
    start = full_checkpoint(turn, checkpoint)
    position = turn.checkpoints.index(start)
    writer = as_node or next((s.node for s in turn.steps if s.checkpoint_id == turn.checkpoints[position - 1]), None)
    if writer is None:
        raise ValueError("fork from a checkpoint after the first node of a turn, or pass as_node")
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": start}}
    new_config = await graph.aupdate_state(config, values, as_node=writer)
    events = [event async for event in _stream(graph, new_config, SenaContext(thread_id=thread_id))]
    return str(new_config["configurable"]["checkpoint_id"]), events


async def branches(graph: Any, thread_id: str) -> list[dict[str, Any]]:
    """Every leaf of the thread's checkpoint tree: the current branch first, then the others."""
    children: dict[str, int] = {}
    snapshots = []
    async for snapshot in graph.aget_state_history({"configurable": {"thread_id": thread_id}}):
        snapshots.append(snapshot)
        parent = (snapshot.parent_config or {}).get("configurable", {}).get("checkpoint_id")
        if parent:
            children[parent] = children.get(parent, 0) + 1
    leaves = [s for s in snapshots if checkpoint_id(s) not in children]
    return [
        {
            "head": checkpoint_id(s),
            "current": i == 0,
            "created_at": s.created_at,
            "last_message": last_message(s.values),
            "answer": (s.values.get("answer") or "")[:120],
        }
        for i, s in enumerate(leaves)
    ]
