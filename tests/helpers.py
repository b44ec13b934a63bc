"""Small helpers for driving the graph in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graph.state import SenaContext, turn_input

Event = dict[str, Any]


async def run_turn(graph: Any, thread_id: str, text: str, **context: Any) -> list[Event]:
    """Run one turn and return its custom-stream events."""
    return [
        event
        async for event in graph.astream(
            turn_input(text),
            {"configurable": {"thread_id": thread_id}},
            context=SenaContext(thread_id=thread_id, **context),
            stream_mode="custom",
        )
    ]


def nodes_run(events: list[Event]) -> list[str]:
    return [e["node"] for e in events if e["event"] == "node_end"]


def answer_text(events: list[Event]) -> str:
    return "".join(e["text"] for e in events if e["event"] == "token")


def fill(folder: Path) -> Path:
    """Write a file until the filesystem refuses another byte."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as handle:  # unbuffered: nothing is left to flush at close
        for size in (65536, 4096, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError:
                pass
    return filler
