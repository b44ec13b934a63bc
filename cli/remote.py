"""`sena chat --server URL`: the same chat, with a running `sena serve` doing the work.

This is also how a second process shares an embedded store: the server owns `data/` (the
memory store allows one process), and the CLI talks to it over the API.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
from rich.console import Console

REMOTE_HELP = """Commands (over the API):
  /help                 show this help
  /exit, /quit          leave (Ctrl-D works too)
  /thread [NAME]        show the current thread, or switch to NAME
  /history              show this thread's messages
  /verbose              toggle node events
  /ext NAME MESSAGE     run extension NAME on MESSAGE
  /confirm [ID]         allow what an extension asked for (a delete); /deny [ID] refuses it"""


class RemoteError(RuntimeError):
    pass


def server_alive(url: str, token: str | None = None) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    name = "message"
    for line in lines:
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            yield name, json.loads(line[5:].strip())


class RemoteChat:
    def __init__(self, url: str, token: str | None, thread_id: str, verbose: bool, out: Console) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=None
        )
        self.thread_id = thread_id
        self.verbose = verbose
        self.out = out

    def _error(self, response: httpx.Response) -> RemoteError:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        return RemoteError(f"{response.status_code}: {message}")

    def turn(self, message: str, extensions: list[str] | None = None) -> None:
        body = {"message": message, "thread_id": self.thread_id, "extensions": extensions or []}
        answering = False
        with self.client.stream("POST", "/api/v1/chat/stream", json=body) as response:
            if response.status_code != 200:
                response.read()
                raise self._error(response)
            for name, data in sse(response.iter_lines()):
                if name == "token":
                    if not answering:
                        answering = True
                        self.out.print("[bold magenta]sena>[/bold magenta] ", end="")
                    sys.stdout.write(data["text"])
                    sys.stdout.flush()
                elif name in ("model_error", "recovered", "extension_disabled"):
                    self.out.print(f"\n[yellow]! {data.get('message') or data.get('action')}[/yellow]")
                elif name == "error":
                    self.out.print(f"\n[red]{data['message']}[/red]")
                elif self.verbose and name == "node_end":
                    summary = f" {data['summary']}" if data.get("summary") else ""
                    self.out.print(f"[dim]< {data['node']} {data['duration_ms']:.1f} ms{summary}[/dim]")
        sys.stdout.write("\n")
        sys.stdout.flush()
        for pending in self.pending():
            self.out.print(
                f"[yellow]! {pending['question']}: /confirm {pending['id']} allows it, "
                f"/deny {pending['id']} refuses.[/yellow]"
            )

    def pending(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/extensions/confirmations")
        return response.json() if response.status_code == 200 else []

    def answer(self, approve: bool, args: list[str]) -> None:
        pending = self.pending()
        chosen = args[0] if args else pending[0]["id"] if len(pending) == 1 else None
        if chosen is None:
            listed = "; ".join(f"{p['id']}: {p['question']}" for p in pending) or "nothing is waiting"
            self.out.print(f"Which one? {listed}")
            return
        response = self.client.post(f"/api/v1/extensions/confirmations/{chosen}", json={"approve": approve})
        if response.status_code != 200:
            raise self._error(response)
        self.out.print(response.json()["message"])

    def history(self) -> None:
        response = self.client.get("/api/v1/chat/history", params={"thread_id": self.thread_id})
        if response.status_code != 200:
            raise self._error(response)
        for message in response.json():
            who = "you" if message["role"] == "user" else "sena"
            self.out.print(f"[bold]{who}>[/bold] {message['content']}")

    def command(self, line: str) -> bool:
        name, *args = line.split()
        if name in ("/exit", "/quit"):
            return False
        if name == "/help":
            self.out.print(REMOTE_HELP)
        elif name == "/verbose":
            self.verbose = not self.verbose
            self.out.print(f"verbose {'on' if self.verbose else 'off'}")
        elif name == "/thread":
            if args:
                self.thread_id = args[0]
            self.out.print(f"thread: {self.thread_id}")
        elif name == "/history":
            self.history()
        elif name == "/ext" and args:
            self.turn(" ".join(args[1:]) or args[0], [args[0]])
        elif name in ("/confirm", "/deny"):
            self.answer(name == "/confirm", args)
        else:
            self.out.print(f"Unknown command {name} over the API. Type /help.")
        return True

    def loop(self) -> None:
        health = self.client.get("/health").json()
        self.out.print(f"[bold]Sena[/bold] via {self.url} · thread {self.thread_id} · /help for commands")
        if health.get("memory") not in ("on", None):
            self.out.print(f"[yellow]! {health['memory']}[/yellow]")
        while True:
            self.out.print("[bold cyan]you> [/bold cyan]", end="")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if line == "":
                break
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not self.command(line):
                        break
                else:
                    self.turn(line)
            except (RemoteError, httpx.HTTPError) as exc:
                self.out.print(f"\n[red]The server said: {exc}[/red]")
        self.client.close()
