"""The chat's front end, shared by `sena chat` and `sena chat --server`: the slash commands as one
table, how a turn's events are shown, and the read-eval loop.

A command talks to a `ChatFront`, which is where the work happens: `LocalFront` (cli/chat.py)
drives the Sena in this process, `RemoteFront` (cli/remote.py) a running Sena over its API. The
table, the help, the words on screen and the order of things are the same for both.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape

from config.settings import ROLES

Event = dict[str, Any]


class CommandError(Exception):
    """What a command could not do, said to the user as is."""


@dataclass(frozen=True)
class Memory:
    id: str
    text: str
    score: float | None = None


class ChatFront(Protocol):
    """The operations behind the commands; a local Sena or a remote one."""

    thread_id: str
    view: TurnView

    async def turn(self, text: str | None, extensions: tuple[str, ...] = ()) -> None: ...

    async def history(self) -> list[tuple[str, str]]: ...

    async def models(self) -> dict[str, str]: ...

    async def switch_model(self, role: str, model: str) -> str: ...

    async def extensions(self) -> list[str]: ...

    async def memories(self, limit: int) -> list[Memory]: ...

    async def search_memories(self, query: str) -> list[Memory]: ...

    async def forget(self, memory_id: str) -> None: ...

    async def confirmations(self) -> list[tuple[str, str]]: ...

    async def confirm(self, confirmation_id: str, approve: bool) -> str: ...


@dataclass
class TurnView:
    """Show a turn's events: the answer token by token, warnings, node events when verbose."""

    out: Console
    verbose: bool = False
    answering: bool = False

    def begin(self) -> None:
        self.answering = False

    def end(self) -> None:
        if self.answering:
            self.out.file.write("\n")
            self.out.file.flush()
        self.answering = False

    def show(self, event: Event) -> None:
        kind = event["event"]
        if kind == "token":
            if not self.answering:
                self.answering = True
                self.out.print("[bold magenta]sena>[/bold magenta] ", end="")
            self.out.file.write(event["text"])
            self.out.file.flush()
            return
        if kind == "turn_start":
            self.end()  # a resumed turn's answer ends here
        elif kind == "turn_queued":
            self.out.print("[dim](another turn of this thread is running; yours comes next)[/dim]")
        elif kind == "turn_resumed":
            self.out.print("[yellow]The last turn of this thread was interrupted; finishing it first.[/yellow]")
        elif kind in ("model_error", "recovered", "extension_disabled"):
            self.out.print(f"\n[yellow]! {escape(str(event.get('message') or event.get('action')))}[/yellow]")
        elif kind == "error":  # the server's account of a failed turn
            self.out.print(
                f"\n[red]{escape(event['message'])}[/red]\n[yellow]{escape(event.get('hint') or '')}[/yellow]"
            )
        elif self.verbose and kind == "node_start":
            self.out.print(f"[dim]> {event['node']}[/dim]")
        elif self.verbose and kind == "node_end":
            summary = f" {event['summary']}" if event.get("summary") else ""
            self.out.print(f"[dim]< {event['node']} {event['duration_ms']:.1f} ms{escape(summary)}[/dim]")
        elif self.verbose and kind == "node_error":
            self.out.print(f"[red]x {event['node']}: {event['error']}: {escape(event['message'])}[/red]")
        elif self.verbose and kind == "extension_run":
            self.out.print(
                f"[dim]  extension {event['name']} {'ok' if event['ok'] else 'failed'} {event['ms']} ms[/dim]"
            )

    def confirmation(self, confirmation_id: str, question: str) -> None:
        self.out.print(
            f"\n[yellow]! {escape(question)}: /confirm {confirmation_id} allows it, "
            f"/deny {confirmation_id} refuses.[/yellow]"
        )


Handler = Callable[[ChatFront, list[str]], Awaitable[bool]]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]
    usage: str
    help: str
    run: Handler = field(repr=False)


async def _leave(front: ChatFront, args: list[str]) -> bool:
    return False


async def _help(front: ChatFront, args: list[str]) -> bool:
    front.view.out.print(help_text())
    return True


async def _verbose(front: ChatFront, args: list[str]) -> bool:
    front.view.verbose = not front.view.verbose
    front.view.out.print(f"verbose {'on' if front.view.verbose else 'off'}")
    return True


async def _thread(front: ChatFront, args: list[str]) -> bool:
    if args:
        front.thread_id = args[0]
        await greet(front)
    else:
        front.view.out.print(f"thread: {front.thread_id}")
    return True


async def _history(front: ChatFront, args: list[str]) -> bool:
    for who, text in await front.history():
        front.view.out.print(f"[bold]{who}>[/bold] {escape(text)}")
    return True


async def _model(front: ChatFront, args: list[str]) -> bool:
    out = front.view.out
    if not args:
        for role, label in (await front.models()).items():
            out.print(f"{role:9} {label}")
    elif len(args) == 2 and args[0] in ROLES:
        out.print(f"{args[0]} -> {await front.switch_model(args[0], args[1])}")
    else:
        out.print("Usage: /model ROLE NAME  (roles: " + ", ".join(ROLES) + ")")
    return True


async def _ext(front: ChatFront, args: list[str]) -> bool:
    names = await front.extensions()
    if not args:
        front.view.out.print("extensions: " + (", ".join(names) or "none"))
    elif args[0] not in names:
        front.view.out.print(f"[red]No active extension {escape(args[0])!r}.[/red] /ext lists them.")
    else:
        await front.turn(" ".join(args[1:]) or args[0], extensions=(args[0],))
    return True


def _show_memories(front: ChatFront, found: list[Memory]) -> None:
    if not found:
        front.view.out.print("No memories.")
    for m in found:
        score = f" [dim]{m.score:.2f}[/dim]" if m.score is not None else ""
        front.view.out.print(f"- {escape(m.text)}{score} [dim]{m.id}[/dim]")


async def _memory(front: ChatFront, args: list[str]) -> bool:
    if not args or args[0] == "list":
        _show_memories(front, await front.memories(int(args[1]) if len(args) > 1 and args[1].isdigit() else 20))
    elif args[0] == "search" and len(args) > 1:
        _show_memories(front, await front.search_memories(" ".join(args[1:])))
    elif args[0] == "forget" and len(args) == 2:
        await front.forget(args[1])
        front.view.out.print(f"Forgot {args[1]}.")
    else:
        front.view.out.print("Usage: /memory [list [N]] | /memory search WORDS | /memory forget ID")
    return True


async def _answer(front: ChatFront, args: list[str], approve: bool) -> bool:
    pending = await front.confirmations()
    chosen = args[0] if args else pending[0][0] if len(pending) == 1 else None
    if chosen is None:
        listed = "; ".join(f"{i}: {q}" for i, q in pending) or "nothing is waiting"
        front.view.out.print(f"Which one? {escape(listed)}")
    else:
        front.view.out.print(escape(await front.confirm(chosen, approve)))
    return True


async def _confirm(front: ChatFront, args: list[str]) -> bool:
    return await _answer(front, args, True)


async def _deny(front: ChatFront, args: list[str]) -> bool:
    return await _answer(front, args, False)


COMMANDS: tuple[Command, ...] = (
    Command(("/help",), "/help", "show this help", _help),
    Command(("/exit", "/quit"), "/exit, /quit", "leave (Ctrl-D works too)", _leave),
    Command(("/model",), "/model [ROLE NAME]", "show which model serves each role, or switch ROLE to NAME", _model),
    Command(("/thread",), "/thread [NAME]", "show the current thread, or switch to NAME", _thread),
    Command(("/history",), "/history", "show this thread's messages", _history),
    Command(("/memory",), "/memory [list|search|forget]", "what Sena remembers: list [N], search WORDS, forget ID",
            _memory),
    Command(("/verbose",), "/verbose", "toggle node events", _verbose),
    Command(("/ext",), "/ext [NAME MESSAGE]", "list the extensions, or run NAME on MESSAGE", _ext),
    Command(("/confirm",), "/confirm [ID]", "allow what an extension asked for (a delete)", _confirm),
    Command(("/deny",), "/deny [ID]", "refuse what an extension asked for", _deny),
)  # fmt: skip
BY_NAME = {name: command for command in COMMANDS for name in command.names}


def help_text() -> str:
    width = max(len(c.usage) for c in COMMANDS) + 2
    return "Commands:\n" + "\n".join(f"  {c.usage:{width}}{c.help}" for c in COMMANDS)


async def dispatch(front: ChatFront, line: str) -> bool:
    """Run a slash command; False when the user wants to leave."""
    name, *args = line.split()
    command = BY_NAME.get(name)
    if command is None:
        front.view.out.print(f"Unknown command {escape(name)}. Type /help.")
        return True
    try:
        return await command.run(front, args)
    except CommandError as exc:
        front.view.out.print(f"[red]{escape(str(exc))}[/red]")
        return True


async def read_line(prompt: str, out: Console) -> str | None:
    out.print(f"[bold cyan]{prompt}[/bold cyan]", end="")
    sys.stdout.flush()
    line = await asyncio.to_thread(sys.stdin.readline)
    return None if line == "" else line.rstrip("\n")


async def greet(front: ChatFront) -> None:
    """Say which thread this is, and finish its turn a crash cut short, if there is one."""
    if count := len(await front.history()):
        front.view.out.print(f"[dim]Resumed thread {front.thread_id} ({count} messages). /history shows them.[/dim]")
    else:
        front.view.out.print(f"[dim]New thread {front.thread_id}.[/dim]")
    await front.turn(None)


async def chat_loop(front: ChatFront, on_failure: Callable[[Exception, str], Awaitable[None]]) -> None:
    """Read lines until EOF or /exit: commands go to the table, the rest are turns."""
    await greet(front)
    while True:
        line = await read_line("you> ", front.view.out)
        if line is None:
            break
        line = line.strip()
        if not line:
            continue
        try:
            if line.startswith("/"):
                if not await dispatch(front, line):
                    break
            else:
                await front.turn(line)
        except Exception as exc:
            front.view.end()
            await on_failure(exc, line)
