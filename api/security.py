"""Who may call the API and how often: bearer-token auth, a per-client rate limit, body size.

Auth is on whenever `api.auth_token` is set; `/health` is always open. Browsers' EventSource
cannot send headers, so GET requests may pass the token as `?token=` instead (the debug page
does). The rate limit is a token bucket per client (its token, else its address); over it the
answer is 429 with `Retry-After`.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request, Response
from fastapi.responses import JSONResponse

OPEN_PATHS = frozenset({"/health"})


def error_response(
    status: int, message: str, hint: str | None = None, kind: str | None = None, **headers: str
) -> JSONResponse:
    body: dict[str, object] = {"error": {"status": status, "message": message}}
    if hint:
        body["error"]["hint"] = hint  # type: ignore[index]
    if kind:
        body["error"]["kind"] = kind  # type: ignore[index]
    return JSONResponse(body, status_code=status, headers=headers or None)


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if request.method == "GET":
        return request.query_params.get("token")
    return None


def authorized(request: Request, token: str | None) -> bool:
    if token is None or request.url.path in OPEN_PATHS:
        return True
    given = presented_token(request)
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


@dataclass
class RateLimiter:
    """A token bucket per client: `per_minute` requests, refilled continuously."""

    per_minute: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, client: str, now: float | None = None) -> float:
        """Take one request from `client`'s bucket; return 0, or the seconds to wait."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget idle clients rather than grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 300}
            return (1 - tokens) / rate


def guard(
    token: str | None, limiter: RateLimiter, max_body: int
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The HTTP middleware: body size, then auth, then the rate limit."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > max_body):
            return error_response(413, f"The request body is larger than {max_body} bytes.")
        if not authorized(request, token):
            return error_response(
                401,
                "Missing or wrong bearer token.",
                "Send 'Authorization: Bearer <api.auth_token>'.",
                **{"WWW-Authenticate": "Bearer"},
            )
        if request.url.path not in OPEN_PATHS:
            client = presented_token(request) or (request.client.host if request.client else "unknown")
            wait = limiter.check(client)
            if wait > 0:
                return error_response(
                    429, "Too many requests.", f"Wait {math.ceil(wait)} s.", **{"Retry-After": str(math.ceil(wait))}
                )
        return await call_next(request)

    return middleware


def check_binding(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if token is None and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
        raise ValueError(
            f"Refusing to listen on {host} without api.auth_token: anyone who can reach it could use Sena. "
            "Set SENA_API__AUTH_TOKEN (or api.auth_token), or bind to 127.0.0.1."
        )
