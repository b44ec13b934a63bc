"""Who may call the API, from where and how often: one ASGI middleware, checks in this order.

1. **Host.** Only the names in `api.allowed_hosts` (loopback by default) are served, so a web
   page that rebinds its own DNS name to 127.0.0.1 reaches nothing.
2. **Origin.** A state-changing request (POST, PUT, PATCH, DELETE) from a browser must come
   from the page's own origin or one in `api.cors_origins`: a foreign page in the user's browser
   cannot drive the API, token or not. Clients that are not browsers send no `Origin`.
3. **Body size**, counted as the body arrives, so a chunked body is held to the limit too.
4. **Auth.** On whenever `api.auth_token` is set: a bearer token, or the studio's session
   cookie (HttpOnly, SameSite=Strict), which the studio's sign-in page sets once the token is
   typed there; a token never travels in a URL. `/health`, the sign-in page and the studio's
   static files are open. A studio page asked for without a session redirects to sign-in.
5. **Rate limit** per identity: the token holder when the token checks out, else the socket
   peer. A client-supplied value (a made-up token, `X-Forwarded-For`) never picks the bucket;
   the peer is a proxy's client only when `api.trusted_proxies` lists the proxy (uvicorn
   applies that; `sena serve` configures it). The limiter is `limits`' sliding-window counter,
   two counters per identity, expired after the window.

Every refusal is the API's JSON error with a message and what to do (a studio page redirects).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import time
from urllib.parse import urlsplit

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import APISettings

OPEN_PATHS = frozenset({"/health", "/studio/login"})
OPEN_PREFIXES = ("/studio/static/",)
PAGE_PREFIXES = ("/studio", "/debug")
"""Studio pages: asked for without a session, they redirect to the sign-in page."""
SESSION_COOKIE = "sena_studio"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


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
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def studio_session(token: str) -> str:
    """The studio's cookie value: derived from the token, so the cookie is not the token itself."""
    return hmac.new(token.encode(), b"sena studio session", hashlib.sha256).hexdigest()


def token_matches(request: Request, token: str | None) -> bool:
    if token is None:
        return False
    given = presented_token(request)
    if given is not None and hmac.compare_digest(given.encode(), token.encode()):
        return True
    session = request.cookies.get(SESSION_COOKIE)
    return session is not None and hmac.compare_digest(session.encode(), studio_session(token).encode())


def open_path(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def authorized(request: Request, token: str | None) -> bool:
    return token is None or open_path(request.url.path) or token_matches(request, token)


def studio_page(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PAGE_PREFIXES) and not open_path(path)


def host_name(netloc: str) -> str:
    """`example.com:8000` -> `example.com`; `[::1]:8000` -> `::1`."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def allowed_hosts(settings: APISettings) -> frozenset[str]:
    hosts = {h.lower() for h in settings.allowed_hosts}
    if settings.host not in ("0.0.0.0", "::"):
        hosts.add(settings.host.lower())
    return frozenset(hosts)


class RateLimiter:
    """`per_minute` requests per identity in a sliding window (0 turns it off)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.item = RateLimitItemPerMinute(max(per_minute, 1))
        self.storage = MemoryStorage()
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)

    def check(self, identity: str) -> float:
        """Count one request of `identity`; return 0, or the seconds to wait."""
        if self.per_minute <= 0 or self.strategy.hit(self.item, identity):
            return 0.0
        reset, _ = self.strategy.get_window_stats(self.item, identity)
        return max(reset - time.time(), 1.0)


class Guard:
    """The API's front door as pure ASGI middleware (streams pass through untouched)."""

    def __init__(self, app: ASGIApp, settings: APISettings, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.cors_origins)
        self.limiter = limiter or RateLimiter(settings.rate_limit_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.refuse(request)
        if refusal is None and request.method in STATE_CHANGING | {"GET", "HEAD"}:
            body, refusal = await self.read_body(request.headers, receive)
            if refusal is None:
                receive = replay(body, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def refuse(self, request: Request) -> Response | None:
        """The first check the request fails, as the answer to send; None when it passes them all."""
        host = host_name(request.headers.get("host", ""))
        if "*" not in self.hosts and host not in self.hosts:
            return error_response(
                400,
                f"This Sena does not answer to the host name {host or '(none)'!r}.",
                "Use http://127.0.0.1 or http://localhost; to serve another name, add it to api.allowed_hosts.",
            )
        if request.method in STATE_CHANGING and not self.same_or_allowed_origin(request):
            return error_response(
                403,
                "A request from another web site was refused.",
                "Browsers may only call this API from its own pages or from api.cors_origins.",
            )
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.settings.max_body_bytes):
            return self.too_large()
        if not authorized(request, self.settings.auth_token):
            if request.method == "GET" and studio_page(request.url.path):
                return RedirectResponse("/studio/login", status_code=303)
            return error_response(
                401,
                "Missing or wrong bearer token.",
                "Send 'Authorization: Bearer <api.auth_token>'.",
                **{"WWW-Authenticate": "Bearer"},
            )
        if request.url.path != "/health" and not request.url.path.startswith(OPEN_PREFIXES):  # sign-in is counted
            wait = self.limiter.check(self.identity(request))
            if wait > 0:
                seconds = str(math.ceil(wait))
                return error_response(429, "Too many requests.", f"Wait {seconds} s.", **{"Retry-After": seconds})
        return None

    def same_or_allowed_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return request.headers.get("sec-fetch-site") not in ("cross-site", "same-site")
        if origin.rstrip("/").lower() in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.netloc.lower() == request.headers.get("host", "").lower() and host_name(parts.netloc) in self.hosts

    def identity(self, request: Request) -> str:
        if token_matches(request, self.settings.auth_token):
            return "token"
        return "peer:" + (request.client.host if request.client else "unknown")

    def too_large(self) -> JSONResponse:
        limit = self.settings.max_body_bytes
        return error_response(413, f"The request body is larger than {limit} bytes.", "Send a smaller request.")

    async def read_body(self, headers: Headers, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        """Read the body as it arrives, refusing once it passes the limit (chunked bodies too)."""
        if "content-length" not in headers and "transfer-encoding" not in headers:
            return b"", None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", error_response(400, "The client left before sending the whole body.")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                return b"", self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then the client's later messages."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def check_binding(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token."""
    if token is None and not is_loopback(host):
        raise ValueError(
            f"Refusing to listen on {host} without api.auth_token: anyone who can reach it could use Sena. "
            "Set SENA_API__AUTH_TOKEN (or api.auth_token), or bind to 127.0.0.1."
        )
