"""A client of a running Sena's API, for the commands that run beside it.

One process owns a data folder: `sena serve`, or `sena chat`, which serves the same local API
while it runs (docs/ARCHITECTURE.md, "One owner, many clients"). Any other `sena` command that
needs the folder goes through that API with this client: the remote chat, `sena memory ...`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from config.settings import Settings

log = logging.getLogger(__name__)

SERVER_FILE = "server.json"
"""In the data folder while a process serves its API: `{"pid": ..., "url": ...}`."""


class RemoteError(RuntimeError):
    """The server refused or failed a request; the message is the server's."""


def error_of(response: httpx.Response) -> RemoteError:
    try:
        body = response.json()["error"]
        message = f"{body['message']} {body.get('hint') or ''}".strip()
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return RemoteError(f"{response.status_code}: {message}")


def server_alive(url: str) -> bool:
    """Whether a Sena API answers at `url` (its /health needs no token)."""
    try:
        return bool(httpx.get(f"{url.rstrip('/')}/health", timeout=1.0).json().get("status") == "ok")
    except (httpx.HTTPError, ValueError):
        return False


@contextmanager
def announce(settings: Settings, url: str) -> Iterator[None]:
    """Tell other `sena` commands where this process serves the data folder's API, while it does."""
    path = settings.data_dir / SERVER_FILE
    path.write_text(json.dumps({"pid": os.getpid(), "url": url}), encoding="utf-8")
    try:
        yield
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def find_server(settings: Settings) -> str | None:
    """The URL of the API that serves this data folder now: the one its owner announced, else the
    configured address if a Sena answers there."""
    try:
        announced = json.loads((settings.data_dir / SERVER_FILE).read_text(encoding="utf-8"))
        if server_alive(str(announced["url"])):
            return str(announced["url"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    configured = f"http://{settings.api.host}:{settings.api.port}"
    return configured if server_alive(configured) else None


class SenaClient:
    """The `/api/v1` routes the CLI uses, as methods; errors raise `RemoteError`."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=httpx.Timeout(30.0, read=None))

    async def __aenter__(self) -> SenaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, f"/api/v1{path}", **kwargs)
        if response.status_code >= 400:
            raise error_of(response)
        return response.json()

    async def health(self) -> dict[str, Any]:
        response = await self.http.get("/health")
        result: dict[str, Any] = response.json()
        return result

    async def turn(
        self, thread_id: str, message: str | None, extensions: list[str] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Run a turn over SSE (`None`: finish the thread's interrupted one, if any); yield its
        events as dicts named by their `event` key."""
        body: dict[str, Any] = {"thread_id": thread_id}
        if message is not None:
            body.update(message=message, extensions=extensions or [])
        path = "/api/v1/chat/resume" if message is None else "/api/v1/chat/stream"
        async with aconnect_sse(self.http, "POST", path, json=body) as source:
            if source.response.status_code != 200:
                await source.response.aread()
                raise error_of(source.response)
            async for sse in source.aiter_sse():
                yield {**sse.json(), "event": sse.event}

    async def history(self, thread_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/chat/history", params={"thread_id": thread_id})
        return result

    async def models(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/models")
        return result

    async def switch_model(self, role: str, model: str) -> str:
        return str((await self._call("PUT", f"/models/{role}", json={"model": model}))["model"])

    async def extensions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/extensions")
        return result

    async def memories(self, user_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"user_id": user_id} if user_id else {})}
        result: list[dict[str, Any]] = await self._call("GET", "/memory", params=params)
        return result

    async def search_memories(self, query: str, user_id: str | None = None, limit: int = 5) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"q": query, "limit": limit, **({"user_id": user_id} if user_id else {})}
        result: list[dict[str, Any]] = await self._call("GET", "/memory/search", params=params)
        return result

    async def add_memory(self, text: str, user_id: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/memory/add", json={"text": text, "user_id": user_id})
        return result

    async def edit_memory(self, memory_id: str, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/memory/edit", json={"id": memory_id, "text": text})
        return result

    async def forget(self, memory_id: str) -> None:
        await self._call("DELETE", f"/memory/{memory_id}")

    async def memory_history(self, memory_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", f"/memory/{memory_id}/history")
        return result

    async def confirmations(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", "/extensions/confirmations")
        return result

    async def confirm(self, confirmation_id: str, approve: bool) -> str:
        done = await self._call("POST", f"/extensions/confirmations/{confirmation_id}", json={"approve": approve})
        return str(done["message"])
