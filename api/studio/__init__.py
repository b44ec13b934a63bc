"""The local studio, "Behind the Sena": one page per view, served by the API at `/studio/...`.

Pages are a small server-rendered shell (the nav bar and the view's stable URL) plus one ES
module per view under `static/views/`, which reads and changes everything through `/api/v1`,
so the page can do nothing the API does not allow. Nothing is loaded from outside the server:
the one library, uPlot (charts), is vendored under `static/vendor/` (see `static/VENDORED.md`),
and the pages' Content-Security-Policy allows this origin only.

Sign-in: with `api.auth_token` set, a page asked for without a session redirects to
`/studio/login`, which takes the token once and sets an HttpOnly, SameSite=Strict cookie
(`api.security`); the token never appears in a URL.
"""

from __future__ import annotations

import hmac
import html
import json
from pathlib import Path
from string import Template
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from api.deps import SettingsDep
from api.params import ID_PATTERN
from api.security import SESSION_COOKIE, studio_session

STATIC = Path(__file__).with_name("static")
VIEWS: dict[str, str] = {
    "processing": "Processing",
    "threads": "Threads",
    "memory": "Memory",
    "extensions": "Extensions",
    "telemetry": "Telemetry",
    "logs": "Logs",
    "settings": "Settings",
}
"""The views in nav order: path segment and title."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SHELL = Template(
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · Behind the Sena</title>
<link rel="stylesheet" href="/studio/static/studio.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <a class="brand" href="/studio/processing">Behind the Sena</a>
  <nav aria-label="views">$nav</nav>
  <span id="status" class="muted" role="status"></span>
</header>
<main id="view" data-view="$view" data-args="$args">
  <h1>$title</h1>
  <noscript>The studio needs JavaScript.</noscript>
</main>
<script type="module" src="/studio/static/views/$view.js"></script>
</body>
</html>
"""
)
LOGIN = Template(
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in · Behind the Sena</title>
<link rel="stylesheet" href="/studio/static/studio.css"><link rel="icon" href="data:,"></head>
<body class="login">
<main>
  <h1>Behind the Sena</h1>
  <p>This Sena has an API token (<code>api.auth_token</code>). Type it once; the browser keeps a
  session cookie for this site only.</p>
  <form method="post" action="/studio/login">
    <label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
    <button type="submit">Sign in</button>
  </form>
  <p class="error" role="alert">$error</p>
</main>
</body>
</html>
"""
)

router = APIRouter(include_in_schema=False)


def page(view: str, args: dict[str, object] | None = None) -> HTMLResponse:
    nav = "".join(
        f'<a href="/studio/{name}"{" aria-current=page" if name == view else ""}>{title}</a>'
        for name, title in VIEWS.items()
    )
    body = SHELL.substitute(
        title=VIEWS.get(view, view.title()),
        nav=nav,
        view=view,
        args=html.escape(json.dumps(args or {}), quote=True),
    )
    return HTMLResponse(body, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})


@router.get("/debug")
@router.get("/studio")
async def home() -> HTMLResponse:
    """`/debug` (the old page's address) and `/studio` open the processing view."""
    return page("processing")


@router.get("/studio/login")
async def login_page(settings: SettingsDep) -> Response:
    if settings.api.auth_token is None:
        return RedirectResponse("/studio/processing", status_code=303)
    return HTMLResponse(LOGIN.substitute(error=""), headers={"Content-Security-Policy": CSP})


@router.post("/studio/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    """The sign-in form's POST (urlencoded `token`; parsed here, so no multipart library is needed)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=5)
    token = (form.get("token") or [""])[0]
    expected = settings.api.auth_token
    if expected is None:
        return RedirectResponse("/studio/processing", status_code=303)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        body = LOGIN.substitute(error="That is not this Sena's token.")
        return HTMLResponse(body, status_code=401, headers={"Content-Security-Policy": CSP})
    response = RedirectResponse("/studio/processing", status_code=303)
    response.set_cookie(SESSION_COOKIE, studio_session(expected), httponly=True, samesite="strict", path="/")
    return response


@router.post("/studio/logout")
async def logout() -> Response:
    response = RedirectResponse("/studio/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ThreadId = Annotated[str, PathParam(pattern=ID_PATTERN)]


@router.get("/studio/threads/{thread_id}")
async def thread_page(thread_id: ThreadId) -> HTMLResponse:
    return page("thread", {"thread_id": thread_id})


@router.get("/studio/threads/{thread_id}/turns/{turn}")
async def turn_page(thread_id: ThreadId, turn: int) -> HTMLResponse:
    return page("turn", {"thread_id": thread_id, "turn": turn})


@router.get("/studio/{view}")
async def view_page(view: str) -> Response:
    if view not in VIEWS:
        return PlainTextResponse("No such studio view. The views: " + ", ".join(VIEWS), status_code=404)
    return page(view)
