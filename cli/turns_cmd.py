"""`sena turns | inspect | replay | fork | branches`: debug a turn from its checkpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, with_sena
from graph import time_travel as T
from graph.builder import build_graph
from graph.session import Sena

Thread = Annotated[str, typer.Argument(help="Thread (session) id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def turns(
    thread: Thread,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="Turns to show (the latest first page).")] = 50,
    offset: Annotated[int, typer.Option(help="Newest turns to skip, for older pages.")] = 0,
) -> None:
    """List a thread's turns: time, intent, model, duration, errors (older turns: compacted)."""
    found: list[T.Turn] = with_sena(lambda sena: T.list_turns(sena.graph, thread, limit=limit, offset=offset))
    if as_json:
        print(json.dumps([t.summary() for t in found], indent=2))  # noqa: T201 - machine output
        return
    if not found:
        console().print(f"No turns in thread {thread!r}.")
        return
    table = Table("turn", "time", "intent", "model", "ms", "errors", "message", "first checkpoint")
    for t in found:
        s = t.summary()
        table.add_row(
            str(s["turn"]),
            s["created_at"][11:19],
            s["intent"] or "-",
            s["model"] or "-",
            f"{s['duration_ms']:.0f}",
            str(s["errors"]),
            s["message"][:50],
            t.start_checkpoint + (" (compacted)" if t.compacted else ""),
        )
    console().print(table)


def inspect(
    thread: Thread,
    turn: Annotated[int, typer.Argument(help="Turn number (from `sena turns`).")],
    as_json: AsJson = False,
) -> None:
    """Each node of a turn in order: its input, its update, timing and errors; skipped nodes too."""
    found: T.Turn = with_sena(lambda sena: T.find_turn(sena.graph, thread, turn))
    detail = found.detail()
    if as_json:
        print(json.dumps(detail, indent=2, default=str))  # noqa: T201 - machine output
        return
    out = console()
    out.print(f"[bold]Turn {found.index}[/bold] of {thread}: {found.message!r}")
    for step in found.steps:
        timing = f"{step.duration_ms:.1f} ms" if step.duration_ms is not None else "-"
        out.print(f"\n[bold cyan]{step.node}[/bold cyan] · {timing} · from checkpoint {step.checkpoint_id}")
        out.print(f"  in:  {json.dumps(step.inputs, default=str)[:600]}")
        update = {k: v for k, v in step.update.items() if k != "timings"}
        out.print(f"  out: {json.dumps(update, default=str)[:600]}")
        for error in step.errors:
            out.print(f"  [red]error: {error['error']}: {error['message']}[/red]")
    if found.skipped:
        out.print(f"\n[dim]skipped: {', '.join(found.skipped)}[/dim]")
    out.print(f"\n[bold]answer:[/bold] {detail['answer']}")


def replay(
    thread: Thread,
    checkpoint: Annotated[str, typer.Option("--from", help="A checkpoint id (or prefix) of the turn.")],
    live: Annotated[bool, typer.Option("--live/--recorded", help="Call the models again, or play back.")] = False,
    as_json: AsJson = False,
) -> None:
    """Re-run a turn from a checkpoint; --recorded (default) plays back every model and extension output."""
    mode: Any = "live" if live else "recorded"

    async def work(sena: Sena) -> T.Replay:
        settings = sena.services.settings

        def build(checkpointer: Any) -> Any:
            return build_graph(sena.services, checkpointer)

        return await T.replay(sena.graph, build, thread, checkpoint, mode, settings.app.user_id)

    result: T.Replay = with_sena(work)
    if as_json:
        payload = {k: v for k, v in result.__dict__.items() if k != "events"}
        print(json.dumps({**payload, "identical": result.identical}, indent=2, default=str))  # noqa: T201
        return
    out = console()
    out.print(f"Replayed turn {result.turn} ({result.mode}) from {result.from_checkpoint}")
    out.print(f"[bold]answer:[/bold] {result.answer}")
    if result.identical:
        out.print("[green]Identical to the original: answer, intent, memories, extensions, errors.[/green]")
    for change in result.changes:
        out.print(f"[yellow]{change['key']} differs[/yellow]")
        out.print(f"  original: {json.dumps(change['original'], default=str)[:400]}")
        out.print(f"  replayed: {json.dumps(change['replayed'], default=str)[:400]}")
    for divergence in result.divergences:
        out.print(f"[yellow]! {divergence}[/yellow]")


def fork(
    thread: Thread,
    checkpoint: Annotated[str, typer.Option("--from", help="A checkpoint id (or prefix) of the turn.")],
    assignments: Annotated[list[str], typer.Option("--set", help="key=value (JSON values allowed); intent=NAME.")],
    as_node: Annotated[
        str | None, typer.Option(help="Attribute the edit to this node (default: the last one).")
    ] = None,
) -> None:
    """Edit a past state and continue from it as a new branch; the original branch stays."""

    async def work(sena: Sena) -> tuple[str, list[dict[str, Any]]]:
        return await sena.fork(thread, checkpoint, T.parse_assignments(assignments), as_node)

    head, events = with_sena(work)
    answer = "".join(e["text"] for e in events if e["event"] == "token")
    ran = [e["node"] for e in events if e["event"] == "node_end"]
    console().print(f"New branch from {checkpoint}: ran {', '.join(ran)}; head {head}")
    console().print(f"[bold]answer:[/bold] {answer}")


def branches(thread: Thread) -> None:
    """The thread's branches (leaves of its checkpoint tree), current first."""
    found: list[dict[str, Any]] = with_sena(lambda sena: T.branches(sena.graph, thread))
    table = Table("", "head", "time", "last message", "answer")
    for b in found:
        table.add_row(
            "*" if b["current"] else "",
            b["head"],
            str(b["created_at"])[11:19],
            b["last_message"][:40],
            b["answer"][:60],
        )
    console().print(table)
