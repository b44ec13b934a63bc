"""`sena chat --server URL` (and a chat started beside a running Sena): the same chat, commands
and screen, with another process doing the work over its API (cli/client.py)."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from rich.console import Console
from rich.markup import escape

from cli.client import RemoteError, SenaClient
from cli.commands import CommandError, Memory, TurnView, chat_loop

T = TypeVar("T")


@dataclass
class RemoteFront:
    """The chat's commands and turns on a Sena served at `client.url`."""

    client: SenaClient
    thread_id: str
    view: TurnView

    async def turn(self, text: str | None, extensions: tuple[str, ...] = ()) -> None:
        self.view.begin()
        async for event in self.client.turn(self.thread_id, text, list(extensions)):
            if event["event"] != "done":
                self.view.show(event)
        self.view.end()
        for pending in await self.client.confirmations():
            self.view.confirmation(pending["id"], pending["question"])

    async def history(self) -> list[tuple[str, str]]:
        return [
            ("you" if m["role"] == "user" else "sena", m["content"]) for m in await self.client.history(self.thread_id)
        ]

    async def models(self) -> dict[str, str]:
        return dict((await self.client.models())["roles"])

    async def switch_model(self, role: str, model: str) -> str:
        return await self._said(self.client.switch_model(role, model))

    async def extensions(self) -> list[str]:
        try:
            return sorted(e["name"] for e in await self.client.extensions() if e["status"] == "active")
        except RemoteError:
            return []

    async def memories(self, limit: int) -> list[Memory]:
        return [Memory(m["id"], m["text"]) for m in await self._said(self.client.memories(limit=limit))]

    async def search_memories(self, query: str) -> list[Memory]:
        found = await self._said(self.client.search_memories(query))
        return [Memory(m["id"], m["text"], float(m.get("score") or 0.0)) for m in found]

    async def forget(self, memory_id: str) -> None:
        await self._said(self.client.forget(memory_id), missing=f"No memory with id {memory_id!r}; /memory lists them.")

    async def confirmations(self) -> list[tuple[str, str]]:
        return [(p["id"], p["question"]) for p in await self.client.confirmations()]

    async def confirm(self, confirmation_id: str, approve: bool) -> str:
        return await self._said(self.client.confirm(confirmation_id, approve), prefix="Not done: ")

    async def _said(self, call: Awaitable[T], missing: str | None = None, prefix: str = "") -> T:
        """The server's answer, or its refusal as a `CommandError` in its own words (`missing` for a 404)."""
        try:
            return await call
        except RemoteError as exc:
            if missing and str(exc).startswith("404"):
                raise CommandError(missing) from exc
            raise CommandError(prefix + str(exc).split(": ", 1)[-1]) from exc


async def remote_chat(url: str, token: str | None, thread_id: str, verbose: bool, out: Console) -> None:
    async with SenaClient(url, token) as client:
        try:
            health = await client.health()
        except Exception as exc:
            out.print(f"[red]No Sena answers at {escape(url)}: {escape(str(exc))}[/red]")
            return
        out.print(f"[bold]Sena[/bold] via {escape(url)} · thread {thread_id} · /help for commands")
        if health.get("memory") not in ("on", None):
            out.print(f"[yellow]! {escape(str(health['memory']))}[/yellow]")
        front = RemoteFront(client, thread_id, TurnView(out, verbose))

        async def failed(exc: Exception, line: str) -> None:
            out.print(f"\n[red]The server said: {escape(str(exc))}[/red]")

        await chat_loop(front, failed)
