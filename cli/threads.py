"""`sena threads ...`: sessions -- list, show, tag, status, search, export, import, prune, compact."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, load_or_exit, with_sena
from graph.session import Sena
from storage.conversation_log import STATUSES, ConversationLog

app = typer.Typer(help="Threads (sessions): list, show, tag, status, search, export, import, prune, compact.")
Thread = Annotated[str, typer.Argument(help="Thread (session) id.")]


def with_log(work: Callable[[ConversationLog], Any]) -> Any:
    settings = load_or_exit()
    log = ConversationLog.from_path(settings.database_path)
    try:
        return work(log)
    except (LookupError, ValueError) as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        log.close()


@app.callback(invoke_without_command=True)
def threads(ctx: typer.Context) -> None:
    """List threads (sessions) with their turn counts, status, tags and last activity."""
    if ctx.invoked_subcommand is None:
        list_()


@app.command("list")
def list_(tag: Annotated[str | None, typer.Option(help="Only threads with this tag.")] = None) -> None:
    """List threads, newest first."""
    rows = with_log(lambda log: log.threads())
    rows = [r for r in rows if tag is None or tag in r.tags]
    if not rows:
        console().print("No threads yet. Start one with `sena chat --thread NAME`.")
        return
    table = Table("thread", "title", "turns", "status", "tags", "updated")
    for row in rows:
        table.add_row(row.thread_id, row.title or "", str(row.turns), row.status, ", ".join(row.tags), row.updated_at)
    console().print(table)


@app.command()
def show(thread: Thread) -> None:
    """Show a thread's metadata and its turns."""

    def work(log: ConversationLog) -> None:
        summary = log.thread(thread)
        if summary is None:
            raise LookupError(f"no thread {thread!r}; `sena threads` lists them")
        out = console()
        out.print(
            f"[bold]{summary.title or thread}[/bold] ({thread}) · {summary.status} · tags: "
            f"{', '.join(summary.tags) or 'none'} · {summary.turns} turns · since {summary.created_at}"
        )
        for i, turn in enumerate(log.turns(thread), start=1):
            out.print(f"{i:3}. [{turn.intent or '-'}] {turn.user_input[:70]}  ->  {turn.response[:70]}")

    with_log(work)


@app.command()
def tag(
    thread: Thread,
    add: Annotated[list[str] | None, typer.Option("--add", help="Tag to add.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Tag to remove.")] = None,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATUSES)}.")] = None,
) -> None:
    """Tag a thread, retitle it, or set its status."""

    def work(log: ConversationLog) -> None:
        summary = log.thread(thread)
        if summary is None:
            raise LookupError(f"no thread {thread!r}; `sena threads` lists them")
        tags = (set(summary.tags) | set(add or [])) - set(remove or [])
        log.describe(thread, title=title, status=status, tags=sorted(tags))
        updated = log.thread(thread) or summary
        console().print(f"{thread}: {updated.status}; tags: {', '.join(updated.tags) or 'none'}")

    with_log(work)


@app.command()
def search(text: str, limit: int = 20) -> None:
    """Find turns in any thread whose message or answer contains TEXT."""
    found = with_log(lambda log: log.search(text, limit))
    if not found:
        console().print("Nothing found.")
    for turn in found:
        console().print(f"[bold]{turn.thread_id}[/bold] {turn.created_at}: {turn.user_input[:80]}")
        console().print(f"   -> {turn.response[:100]}")


@app.command()
def export(
    thread: Thread,
    fmt: Annotated[str, typer.Option("--format", help="json (re-importable) or md (a transcript).")] = "json",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Export a thread as JSON (machine-readable, importable) or Markdown."""
    from graph.thread_files import export_session, to_markdown

    if fmt not in ("json", "md"):
        console().print("[red]--format is json or md[/red]")
        raise typer.Exit(2)
    data = with_sena(lambda sena: export_session(sena, thread))
    text = json.dumps(data, indent=2, ensure_ascii=False) if fmt == "json" else to_markdown(data)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        console().print(f"Wrote {output}")
    else:
        print(text)  # noqa: T201 - the export is the output


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A JSON file from `sena threads export`.")],
    as_thread: Annotated[str | None, typer.Option("--as", help="Import under this thread id.")] = None,
) -> None:
    """Import a thread exported as JSON."""
    from graph.thread_files import import_session

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        console().print(f"[red]Cannot read {path}: {exc}[/red]")
        raise typer.Exit(1) from exc
    target = with_sena(lambda sena: import_session(sena, data, as_thread))
    console().print(f"Imported as thread {target}.")


@app.command()
def prune(
    older_than: Annotated[str, typer.Option("--older-than", help="Age such as 30d or 12h.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
) -> None:
    """Delete threads inactive for longer than the given age: checkpoints, log rows and recordings."""
    unit = {"d": "days", "h": "hours"}.get(older_than[-1:])
    if unit is None or not older_than[:-1].isdigit():
        console().print("[red]--older-than takes a number and d or h, e.g. 30d[/red]")
        raise typer.Exit(2)
    cutoff = (datetime.now(UTC) - timedelta(**{unit: int(older_than[:-1])})).strftime("%Y-%m-%dT%H:%M:%S")

    async def work(sena: Sena) -> list[str]:
        log = sena.services.log
        old = [t.thread_id for t in (log.threads() if log else []) if t.updated_at < cutoff]
        if dry_run or not old:
            return old
        for thread_id in old:
            await sena.graph.checkpointer.adelete_thread(thread_id)  # type: ignore[union-attr]
            if log is not None:
                log.delete_thread(thread_id)
        if sena.services.recorder is not None:
            sena.services.recorder.forget_threads(old)
        return old

    gone = with_sena(work)
    verb = "Would delete" if dry_run else "Deleted"
    console().print(f"{verb} {len(gone)} thread(s){': ' + ', '.join(gone) if gone else ''}.")


@app.command()
def compact() -> None:
    """Keep node-level history for the latest turns only, move transcripts to the log, give space back.

    Runs by itself once when an older database is first opened; this runs it again on demand."""
    from graph.upkeep import compact_everything

    async def work(sena: Sena) -> str:
        report = await compact_everything(sena, say=lambda line: console().print(f"[dim]{line}[/dim]"))
        return report.describe()

    console().print(f"Compacted {with_sena(work)}.")
