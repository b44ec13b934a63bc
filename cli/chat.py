"""`sena chat`: talk to Sena in the terminal, with the answer streamed token by token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.markup import escape

from cli.commands import CommandError, Memory, TurnView, chat_loop
from cli.common import console, load_or_exit, model_progress, setup_logging
from cli.serve import serving
from config.errors import turn_failure
from config.settings import Settings
from extensions.host import SandboxHost
from graph.session import Event, Sena, SwitchRefused, open_sena
from memory.store import MemoryNotFound, MemoryStore
from providers.registry import ModelRegistry

log = logging.getLogger(__name__)


@dataclass
class LocalFront:
    """The chat's commands and turns on the Sena in this process (cli/commands.py)."""

    sena: Sena
    thread_id: str
    view: TurnView

    async def turn(self, text: str | None, extensions: tuple[str, ...] = ()) -> None:
        """Run a turn (`None`: only finish the thread's interrupted one, if any) and show it."""
        self.view.begin()
        async for event in self.sena.turn(self.thread_id, text, extensions=extensions):
            self.view.show(event)
        self.view.end()
        for pending in self._pending():
            self.view.confirmation(pending.id, pending.question)

    def _pending(self) -> list[Any]:
        host = self.sena.services.extensions
        return host.confirmations.pending() if isinstance(host, SandboxHost) else []

    async def history(self) -> list[tuple[str, str]]:
        return [
            ("you" if isinstance(m, HumanMessage) else "sena", m.text) for m in await self.sena.messages(self.thread_id)
        ]

    async def models(self) -> dict[str, str]:
        return self.sena.models_in_use()

    async def switch_model(self, role: str, model: str) -> str:
        try:
            return self.sena.switch_model(role, model).label
        except (SwitchRefused, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    async def extensions(self) -> list[str]:
        return self.sena.services.extensions.names()

    def _memory(self) -> MemoryStore:
        if self.sena.services.memory is None:
            raise CommandError(self.sena.services.memory_problem or "Long-term memory is off (memory.long_term).")
        return self.sena.services.memory

    async def memories(self, limit: int) -> list[Memory]:
        found = await asyncio.to_thread(self._memory().list, self.sena.services.settings.app.user_id, limit)
        return [Memory(m.id, m.text) for m in found]

    async def search_memories(self, query: str) -> list[Memory]:
        found = await asyncio.to_thread(self._memory().search, query, self.sena.services.settings.app.user_id)
        return [Memory(m.id, m.text, m.score) for m in found]

    async def forget(self, memory_id: str) -> None:
        try:
            await asyncio.to_thread(self._memory().delete, memory_id)
        except MemoryNotFound as exc:
            raise CommandError(f"No memory with id {memory_id!r}; /memory lists them.") from exc

    async def confirmations(self) -> list[tuple[str, str]]:
        return [(p.id, p.question) for p in self._pending()]

    async def confirm(self, confirmation_id: str, approve: bool) -> str:
        host = self.sena.services.extensions
        if not isinstance(host, SandboxHost):
            raise CommandError("Extensions are off; nothing waits for confirmation.")
        try:
            if approve:
                return host.confirmations.approve(confirmation_id)
            return f"Cancelled: {host.confirmations.deny(confirmation_id).question}."
        except (KeyError, PermissionError, FileNotFoundError) as exc:
            raise CommandError(f"Not done: {exc.args[0] if isinstance(exc, KeyError) else exc}") from exc

    def show_extension_event(self, event: Event) -> None:
        """Reloads happen between turns (another thread): say so, briefly."""
        out = self.view.out
        if event["event"] == "extension_reloaded":
            out.print(f"[dim](extension {event['name']} {event['version']} loaded)[/dim]")
        elif event["event"] == "extension_reload_failed":
            kept = f"; {event['kept']} keeps running" if event.get("kept") else ""
            out.print(f"[yellow](extension {event['name']} did not load: {escape(event['error'])}{kept})[/yellow]")
        elif event["event"] == "extension_removed":
            out.print(f"[dim](extension {event['name']} removed)[/dim]")


def preflight(settings: Settings, out: Console) -> bool:
    """Run `sena doctor`'s quick checks; show what is wrong and how to fix it. False: cannot start."""
    from cli.doctor import show
    from ops.doctor import quick_checks

    checks = [c for c in quick_checks(settings) if c.name != "memory store"]  # the session reports that itself
    show(checks, out, only_problems=True)
    return all(c.status != "fail" or c.name.startswith(("model", "ollama")) for c in checks)


async def warm_up(sena: Sena, settings: Settings) -> None:
    """Load the fast role's embedded model in the background so the first answer starts sooner."""
    models = sena.services.models
    if settings.llm.provider == "embedded" and isinstance(models, ModelRegistry):
        with contextlib.suppress(Exception):  # the turn itself reports model problems with a fix
            await asyncio.to_thread(models.runtime(models.choose("fast").model).llama)


async def local_chat(settings: Settings, thread_id: str, verbose: bool) -> None:
    out = console()
    if not preflight(settings, out):
        out.print("[red]Sena cannot start until that is fixed (`sena doctor` checks everything).[/red]")
        raise typer.Exit(1)
    async with open_sena(settings, progress=model_progress(out)) as sena:
        if sena.services.memory_problem:
            out.print(f"[yellow]! {sena.services.memory_problem}[/yellow]")
        warm = asyncio.create_task(warm_up(sena, settings))
        front = LocalFront(sena, thread_id, TurnView(out, verbose))
        if isinstance(sena.services.extensions, SandboxHost):
            sena.services.extensions.subscribe(front.show_extension_event)
        for name, why in sena.services.extension_problems.items():
            out.print(f"[yellow]! extension {name} not loaded: {why}[/yellow]")
        async with serving(sena, out):
            fast = sena.services.models.choose("fast").label
            out.print(f"[bold]{settings.app.name}[/bold] · thread {thread_id} · {fast} · /help for commands")

            async def failed(exc: Exception, line: str) -> None:  # the checkpoint keeps the message
                log.info("turn failed", exc_info=True)  # the traceback goes to the log file, not the user
                saved = await sena.saved(front.thread_id, line)
                failure = turn_failure(exc, saved)
                out.print(f"\n[red]{escape(failure.message)}[/red]\n[yellow]{escape(failure.hint)}[/yellow]")
                if not saved:  # so it can be copied and sent again
                    out.print(f"[dim]Not saved: {escape(line)}[/dim]")

            await chat_loop(front, failed)
        warm.cancel()


def chat(
    thread: Annotated[str, typer.Option("--thread", "-t", help="Thread (session) to use or resume.")] = "default",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print node events.")] = False,
    server: Annotated[
        str | None, typer.Option(help="Talk to a running `sena serve` at this URL instead of loading Sena here.")
    ] = None,
) -> None:
    """Chat with Sena; the answer streams token by token. /help lists commands.

    One process owns a data folder and serves its API (a `sena serve`, or the first `sena chat`);
    a chat started beside it goes through that API, with the same commands."""
    from cli.client import find_server
    from cli.remote import remote_chat
    from memory.store import memory_locked

    settings = load_or_exit()
    setup_logging(settings, keep_records=True)
    if server is None and memory_locked(settings):
        server = find_server(settings)
        if server is None:
            console().print(f"[red]Another Sena process holds {settings.data_dir} and serves no API.[/red]")
            console().print("[yellow]Close it, or start it as `sena serve` (or `sena chat`), then try again.[/yellow]")
            raise typer.Exit(1)
        console().print(f"[dim]Another Sena process owns {settings.data_dir}; chatting through {server}.[/dim]")
    try:
        if server:
            asyncio.run(remote_chat(server, settings.api.auth_token, thread, verbose, console()))
        else:
            asyncio.run(local_chat(settings, thread, verbose))
    except KeyboardInterrupt:
        console().print("\nbye")
