"""`sena memory ...`: look at and curate what Sena remembers about you."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.table import Table

from cli.common import console, load_or_exit, setup_logging
from memory.store import MemoryRecord, MemoryStore, MemoryStoreError
from providers.registry import ModelRegistry

app = typer.Typer(help="Long-term memory: list, search, add, edit, delete, history.", no_args_is_help=True)
User = Annotated[str | None, typer.Option("--user", help="User id (default: app.user_id).")]


@contextmanager
def opened(user: str | None) -> Iterator[tuple[MemoryStore, str]]:
    """Open the store for one command; report store errors as messages, not tracebacks."""
    settings = load_or_exit()
    setup_logging(settings)
    registry = ModelRegistry(settings.llm, settings.models_dir)
    try:
        store = MemoryStore.open(settings.memory, settings.data_dir, registry.get(registry.choose("fast")))
    except MemoryStoreError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    try:
        yield store, user or settings.app.user_id
    except MemoryStoreError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        store.close()


def show(records: list[MemoryRecord], scores: bool = False) -> None:
    if not records:
        console().print("No memories.")
        return
    table = Table("memory", *(["score"] if scores else []), "updated")
    table.add_column("id", no_wrap=True, min_width=36)
    for r in records:
        table.add_row(r.text, *([f"{r.score:.3f}"] if scores else []), (r.updated_at or "")[:19], r.id)
    console().print(table)


@app.command("list")
def list_(user: User = None, limit: int = 100) -> None:
    """List memories."""
    with opened(user) as (store, user_id):
        show(store.list(user_id, limit))


@app.command()
def search(query: str, user: User = None, limit: int = 5) -> None:
    """Search memories by meaning."""
    with opened(user) as (store, user_id):
        show(store.search(query, user_id, limit), scores=True)


@app.command()
def add(text: str, user: User = None) -> None:
    """Remember TEXT as given."""
    with opened(user) as (store, user_id):
        record = store.add(text, user_id)
        console().print(f"Added {record.id}")


@app.command()
def edit(memory_id: str, text: str, user: User = None) -> None:
    """Replace the text of a memory (its history keeps the old one)."""
    with opened(user) as (store, _):
        store.update(memory_id, text)
        console().print(f"Updated {memory_id}")


@app.command()
def delete(memory_id: str, user: User = None) -> None:
    """Forget a memory (its history keeps a record)."""
    with opened(user) as (store, _):
        store.delete(memory_id)
        console().print(f"Deleted {memory_id}")


@app.command()
def history(memory_id: str, user: User = None) -> None:
    """Show how a memory changed over time."""
    with opened(user) as (store, _):
        table = Table("when", "event", "old", "new")
        for row in store.history(memory_id):
            table.add_row(
                str(row.get("created_at") or ""),
                str(row.get("event")),
                str(row.get("old_memory") or ""),
                str(row.get("new_memory") or ""),
            )
        console().print(table)
