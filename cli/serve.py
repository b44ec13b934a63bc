"""`sena serve`: the FastAPI app under uvicorn."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cli.common import console, load_or_exit, setup_logging

if TYPE_CHECKING:
    from graph.session import Sena


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
) -> None:
    """Serve the REST/SSE API, the debug feed and the /debug page."""
    import uvicorn

    from api.app import create_app
    from api.security import check_binding
    from cli.client import announce, find_server
    from memory.store import memory_locked

    settings = load_or_exit()
    setup_logging(settings, keep_records=True)
    if memory_locked(settings) and (running := find_server(settings)):
        console().print(f"[yellow]A Sena process already serves {settings.data_dir} at {running}: use it.[/yellow]")
        raise typer.Exit(1)
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    try:
        check_binding(bind_host, settings.api.auth_token)
    except ValueError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console().print(f"Sena API on http://{bind_host}:{bind_port} · docs /docs · debug page /debug")
    # uvicorn re-raises SIGTERM once it has shut down: as SystemExit, so the cleanup below runs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with announce(settings, f"http://{bind_host}:{bind_port}"):
        uvicorn.run(
            create_app(settings),
            host=bind_host,
            port=bind_port,
            log_config=None,  # uvicorn's own would close Sena's log handlers (the logs table, the file)
            log_level=settings.logging.level.lower(),
            timeout_graceful_shutdown=5,
            proxy_headers=bool(settings.api.trusted_proxies),  # X-Forwarded-For only from listed proxies
            forwarded_allow_ips=settings.api.trusted_proxies or None,
        )


@asynccontextmanager
async def serving(sena: Sena, out: Console) -> AsyncIterator[str | None]:
    """Serve this process's Sena on the configured address while the block runs (what `sena chat`
    does, so that `sena memory list` and a second chat can go through it); yield its URL, or None
    when it cannot (the port is taken, or `api.serve_from_chat` is off)."""
    import uvicorn

    from api.app import create_app
    from api.security import check_binding
    from cli.client import announce

    settings = sena.services.settings
    host, port = settings.api.host, settings.api.port
    if not settings.api.serve_from_chat:
        yield None
        return
    try:
        check_binding(host, settings.api.auth_token)
    except ValueError as exc:
        out.print(f"[dim](not serving the API: {exc})[/dim]")
        yield None
        return

    class QuietServer(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:  # Ctrl-C belongs to the chat
            yield

    config = uvicorn.Config(
        create_app(sena=sena), host=host, port=port, log_config=None, log_level="warning", lifespan="on"
    )  # no log_config: uvicorn's would close the chat's log handlers
    server = QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if not server.started:
        with suppress(BaseException):
            await task  # uvicorn logs why (usually: the port is taken)
        out.print(f"[dim](port {port} is taken: other `sena` commands cannot reach this chat)[/dim]")
        yield None
        return
    url = f"http://{host}:{port}"
    try:
        with announce(settings, url):
            yield url
    finally:
        server.should_exit = True
        await task
