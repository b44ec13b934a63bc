"""`sena memory ...`: look at and curate what Sena remembers about you."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from cli.client import RemoteError, SenaClient, find_server
from cli.common import console, load_or_exit, setup_logging
from config.errors import MemoryStoreError
from memory.store import MemoryRecord, MemoryStore, memory_locked
from providers.registry import ModelRegistry

T = TypeVar("T")

app = typer.Typer(help="Long-term memory: list, search, add, edit, delete, history.", no_args_is_help=True)
User = Annotated[str | None, typer.Option("--user", help="User id (default: app.user_id).")]


class Remote:
    """The memory commands through the API of the process that owns the data folder."""

    def __init__(self, url: str, token: str | None, user_id: str | None) -> None:
        self.url, self.token, self.user_id = url, token, user_id

    def _run(self, call: Callable[[SenaClient], Awaitable[T]]) -> T:
        async def go() -> T:
            async with SenaClient(self.url, self.token) as client:
                return await call(client)

        try:
            return asyncio.run(go())
        except RemoteError as exc:
            raise MemoryStoreError(f"{self.url} said {exc}", "") from exc

    def recent(self, limit: int) -> list[MemoryRecord]:
        return [record(m) for m in self._run(lambda c: c.memories(self.user_id, limit))]

    def search(self, query: str, limit: int) -> list[MemoryRecord]:
        return [record(m) for m in self._run(lambda c: c.search_memories(query, self.user_id, limit))]

    def add(self, text: str) -> MemoryRecord:
        return record(self._run(lambda c: c.add_memory(text, self.user_id)))

    def update(self, memory_id: str, text: str) -> None:
        self._run(lambda c: c.edit_memory(memory_id, text))

    def delete(self, memory_id: str) -> None:
        self._run(lambda c: c.forget(memory_id))

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        return self._run(lambda c: c.memory_history(memory_id))


class Local:
    """The memory commands on the store itself, opened for this command."""

    def __init__(self, store: MemoryStore, user_id: str) -> None:
        self.store, self.user_id = store, user_id

    def recent(self, limit: int) -> list[MemoryRecord]:
        return self.store.list(self.user_id, limit)

    def search(self, query: str, limit: int) -> list[MemoryRecord]:
        return self.store.search(query, self.user_id, limit)

    def add(self, text: str) -> MemoryRecord:
        return self.store.add(text, self.user_id)

    def update(self, memory_id: str, text: str) -> None:
        self.store.update(memory_id, text)

    def delete(self, memory_id: str) -> None:
        self.store.delete(memory_id)

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        return self.store.history(memory_id)


def record(fields: dict[str, Any]) -> MemoryRecord:
    known = {f.name for f in dataclasses.fields(MemoryRecord)}
    return MemoryRecord(**{k: v for k, v in fields.items() if k in known})


@contextmanager
def opened(user: str | None) -> Iterator[Local | Remote]:
    """The memory for one command: the store itself, or, while another Sena process owns the data
    folder (`sena chat`, `sena serve`), that process's API. Errors are messages, not tracebacks."""
    settings = load_or_exit()
    setup_logging(settings)
    try:
        if memory_locked(settings):
            url = find_server(settings)
            if url is None:
                raise MemoryStoreError(
                    f"Another Sena process holds {settings.data_dir} and serves no API.",
                    "Close it, or run it as `sena serve` or `sena chat` (which serve one), then try again.",
                )
            yield Remote(url, settings.api.auth_token, user)
            return
        registry = ModelRegistry(settings.llm, settings.models_dir)
        store = MemoryStore.open(settings.memory, settings.data_dir, registry.get(registry.choose("fast")))
        try:
            yield Local(store, user or settings.app.user_id)
        finally:
            store.close()
    except MemoryStoreError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


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
    with opened(user) as memory:
        show(memory.recent(limit))


@app.command()
def search(query: str, user: User = None, limit: int = 5) -> None:
    """Search memories by meaning."""
    with opened(user) as memory:
        show(memory.search(query, limit), scores=True)


@app.command()
def add(text: str, user: User = None) -> None:
    """Remember TEXT as given."""
    with opened(user) as memory:
        console().print(f"Added {memory.add(text).id}")


@app.command()
def edit(memory_id: str, text: str, user: User = None) -> None:
    """Replace the text of a memory (its history keeps the old one)."""
    with opened(user) as memory:
        memory.update(memory_id, text)
        console().print(f"Updated {memory_id}")


@app.command()
def delete(memory_id: str, user: User = None) -> None:
    """Forget a memory (its history keeps a record)."""
    with opened(user) as memory:
        memory.delete(memory_id)
        console().print(f"Deleted {memory_id}")


@app.command()
def history(memory_id: str, user: User = None) -> None:
    """Show how a memory changed over time."""
    with opened(user) as memory:
        table = Table("when", "event", "old", "new")
        for row in memory.history(memory_id):
            table.add_row(
                str(row.get("created_at") or ""),
                str(row.get("event")),
                str(row.get("old_memory") or ""),
                str(row.get("new_memory") or ""),
            )
        console().print(table)
