"""`sena chat`: talk to Sena in the terminal, with the answer streamed token by token."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Annotated

import typer
from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.markup import escape

from cli.common import console, load_or_exit, model_progress, setup_logging
from config.settings import ROLES, Settings
from extensions.host import SandboxHost
from graph.session import Event, Sena, open_sena
from ops.errors import turn_failure
from providers.registry import ModelRegistry

log = logging.getLogger(__name__)

HELP = """Commands:
  /help                 show this help
  /exit, /quit          leave (Ctrl-D works too)
  /model                show which model serves each role
  /model ROLE NAME      serve ROLE (fast, critical, code, router) with model NAME
  /thread [NAME]        show the current thread, or switch to NAME
  /history              show this thread's messages
  /verbose              toggle node events
  /ext                  list the extensions
  /ext NAME MESSAGE     run extension NAME on MESSAGE (parameters are taken from it)
  /confirm [ID]         allow what an extension asked for (a delete); /deny [ID] refuses it"""


@dataclass
class ChatSession:
    sena: Sena
    thread_id: str
    verbose: bool
    out: Console
    overrides: dict[str, str] = field(default_factory=dict)
    answering: bool = False

    def show_event(self, event: Event) -> None:
        kind = event["event"]
        if kind == "token":
            if not self.answering:
                self.answering = True
                self.out.print("[bold magenta]sena>[/bold magenta] ", end="")
            sys.stdout.write(event["text"])
            sys.stdout.flush()
        elif kind in ("model_error", "recovered"):
            self.out.print(f"\n[yellow]! {event.get('message') or event.get('action')}[/yellow]")
        elif self.verbose and kind == "node_start":
            self.out.print(f"[dim]> {event['node']}[/dim]")
        elif self.verbose and kind == "node_end":
            summary = f" {event['summary']}" if event.get("summary") else ""
            self.out.print(f"[dim]< {event['node']} {event['duration_ms']:.1f} ms{summary}[/dim]")
        elif self.verbose and kind == "node_error":
            self.out.print(f"[red]x {event['node']}: {event['error']}: {event['message']}[/red]")
        elif kind == "turn_queued":
            self.out.print("[dim](another turn of this thread is running; yours comes next)[/dim]")
        elif kind == "turn_resumed":
            self.out.print("[yellow]The last turn of this thread was interrupted; finishing it first.[/yellow]")
        elif kind == "extension_disabled":
            self.out.print(f"\n[yellow]! {event['message']}[/yellow]")
        elif self.verbose and kind == "extension_run":
            self.out.print(
                f"[dim]  extension {event['name']} {'ok' if event['ok'] else 'failed'} {event['ms']} ms[/dim]"
            )

    def show_extension_event(self, event: Event) -> None:
        """Reloads happen between turns (another thread): say so, briefly."""
        if event["event"] == "extension_reloaded":
            self.out.print(f"[dim](extension {event['name']} {event['version']} loaded)[/dim]")
        elif event["event"] == "extension_reload_failed":
            kept = f"; {event['kept']} keeps running" if event.get("kept") else ""
            self.out.print(f"[yellow](extension {event['name']} did not load: {event['error']}{kept})[/yellow]")
        elif event["event"] == "extension_removed":
            self.out.print(f"[dim](extension {event['name']} removed)[/dim]")
        elif event["event"] == "confirmation_needed":
            what = f"{event['name']} wants to {event['action'].replace('_', ' ')} {event['target']}"
            self.out.print(
                f"\n[yellow]! {what}: /confirm {event['id']} allows it, /deny {event['id']} refuses.[/yellow]"
            )

    async def run_turn(self, text: str | None, extensions: tuple[str, ...] = ()) -> None:
        """Run a turn (`None`: only finish the thread's interrupted one, if any) and show it."""
        self.answering = False
        shown = False
        async for event in self.sena.turn(self.thread_id, text, self.overrides, extensions):
            if event["event"] == "turn_start" and self.answering:  # the resumed turn's answer ends here
                sys.stdout.write("\n")
                self.answering = False
            self.show_event(event)
            shown = shown or event["event"] == "token"
        if shown:
            sys.stdout.write("\n")
            sys.stdout.flush()

    async def command(self, line: str) -> bool:
        """Handle a slash command; return False when the user wants to leave."""
        name, *args = line.split()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.out.print(HELP)
        elif name == "/verbose":
            self.verbose = not self.verbose
            self.out.print(f"verbose {'on' if self.verbose else 'off'}")
        elif name == "/thread":
            if args:
                self.thread_id = args[0]
                await self.greet_thread()
            else:
                self.out.print(f"thread: {self.thread_id}")
        elif name == "/history":
            for message in await self.sena.messages(self.thread_id):
                who = "you" if isinstance(message, HumanMessage) else "sena"
                self.out.print(f"[bold]{who}>[/bold] {message.text}")
        elif name == "/model":
            self.switch_model(args)
        elif name == "/ext":
            await self.run_extension(args)
        elif name in ("/confirm", "/deny"):
            self.answer_confirmation(name == "/confirm", args)
        else:
            self.out.print(f"Unknown command {name}. Type /help.")
        return True

    async def run_extension(self, args: list[str]) -> None:
        host = self.sena.services.extensions
        if not args:
            self.out.print("extensions: " + (", ".join(host.names()) or "none"))
        elif args[0] not in host.names():
            self.out.print(f"[red]No active extension {args[0]!r}.[/red] /ext lists them.")
        else:
            await self.run_turn(" ".join(args[1:]) or args[0], extensions=(args[0],))

    def answer_confirmation(self, approve: bool, args: list[str]) -> None:
        host = self.sena.services.extensions
        if not isinstance(host, SandboxHost):
            self.out.print("Extensions are off; nothing waits for confirmation.")
            return
        pending = host.confirmations.pending()
        chosen = args[0] if args else pending[0].id if len(pending) == 1 else None
        if chosen is None:
            listed = "; ".join(f"{p.id}: {p.question}" for p in pending) or "nothing is waiting"
            self.out.print(f"Which one? {listed}")
            return
        try:
            if approve:
                self.out.print(host.confirmations.approve(chosen))
            else:
                self.out.print(f"Cancelled: {host.confirmations.deny(chosen).question}.")
        except (KeyError, PermissionError, FileNotFoundError) as exc:
            self.out.print(f"[red]Not done: {exc.args[0] if isinstance(exc, KeyError) else exc}[/red]")

    def switch_model(self, args: list[str]) -> None:
        models = self.sena.services.models
        if len(args) == 2 and args[0] in ROLES and isinstance(models, ModelRegistry):
            try:
                choice = models.switch(args[0], args[1])
            except ValueError as exc:
                self.out.print(f"[red]{exc}[/red]")
                return
            self.out.print(f"{choice.role} -> {choice.label}")
        elif args:
            self.out.print("Usage: /model ROLE NAME  (roles: " + ", ".join(ROLES) + ")")
        else:
            for role in ROLES:
                self.out.print(f"{role:9} {models.choose(role, self.overrides.get(role)).label}")

    async def greet_thread(self) -> None:
        messages = await self.sena.messages(self.thread_id)
        if messages:
            self.out.print(
                f"[dim]Resumed thread {self.thread_id} ({len(messages)} messages). /history shows them.[/dim]"
            )
        else:
            self.out.print(f"[dim]New thread {self.thread_id}.[/dim]")
        await self.run_turn(None)  # finishes a turn a crash cut short, if there is one


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


async def read_line(prompt: str, out: Console) -> str | None:
    out.print(f"[bold cyan]{prompt}[/bold cyan]", end="")
    sys.stdout.flush()
    line = await asyncio.to_thread(sys.stdin.readline)
    return None if line == "" else line.rstrip("\n")


async def chat_loop(settings: Settings, thread_id: str, verbose: bool) -> None:
    out = console()
    if not preflight(settings, out):
        out.print("[red]Sena cannot start until that is fixed (`sena doctor` checks everything).[/red]")
        raise typer.Exit(1)
    async with open_sena(settings, progress=model_progress(out)) as sena:
        if sena.services.memory_problem:
            out.print(f"[yellow]! {sena.services.memory_problem}[/yellow]")
        warm = asyncio.create_task(warm_up(sena, settings))
        session = ChatSession(sena, thread_id, verbose, out)
        if isinstance(sena.services.extensions, SandboxHost):
            sena.services.extensions.subscribe(session.show_extension_event)
        for name, why in sena.services.extension_problems.items():
            out.print(f"[yellow]! extension {name} not loaded: {why}[/yellow]")
        fast = sena.services.models.choose("fast").label
        out.print(f"[bold]{settings.app.name}[/bold] · thread {thread_id} · {fast} · /help for commands")
        await session.greet_thread()
        while True:
            line = await read_line("you> ", out)
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not await session.command(line):
                    break
                continue
            try:
                await session.run_turn(line)
            except Exception as exc:  # the checkpoint keeps the message (unless the disk is full)
                log.info("turn failed", exc_info=True)  # the traceback goes to the log file, not the user
                saved = await session.sena.saved(session.thread_id, line)
                failure = turn_failure(exc, saved)
                out.print(f"\n[red]{failure.message}[/red]\n[yellow]{failure.hint}[/yellow]")
                if not saved:  # so it can be copied and sent again
                    out.print(f"[dim]Not saved: {escape(line)}[/dim]")
        warm.cancel()


def chat(
    thread: Annotated[str, typer.Option("--thread", "-t", help="Thread (session) to use or resume.")] = "default",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print node events.")] = False,
    server: Annotated[
        str | None, typer.Option(help="Talk to a running `sena serve` at this URL instead of loading Sena here.")
    ] = None,
) -> None:
    """Chat with Sena; the answer streams token by token. /help lists commands.

    If another Sena process holds the embedded memory store and `sena serve` answers on the
    configured port, the chat goes through that server (one process owns `data/`)."""
    from cli.remote import RemoteChat, server_alive
    from memory.store import memory_locked

    settings = load_or_exit()
    setup_logging(settings, keep_warnings=True)
    local_server = f"http://{settings.api.host}:{settings.api.port}"
    if server is None and memory_locked(settings) and server_alive(local_server):
        console().print(f"[dim]A Sena server owns {settings.data_dir}; chatting through {local_server}.[/dim]")
        server = local_server
    try:
        if server:
            RemoteChat(server, settings.api.auth_token, thread, verbose, console()).loop()
        else:
            asyncio.run(chat_loop(settings, thread, verbose))
    except KeyboardInterrupt:
        console().print("\nbye")
