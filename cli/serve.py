"""`sena serve`: the FastAPI app under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console, load_or_exit, setup_logging


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: api.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: api.port).")] = None,
) -> None:
    """Serve the REST/SSE API, the debug feed and the /debug page."""
    import uvicorn

    from api.app import create_app
    from api.security import check_binding

    settings = load_or_exit()
    setup_logging(settings, keep_warnings=True)
    bind_host, bind_port = host or settings.api.host, port or settings.api.port
    try:
        check_binding(bind_host, settings.api.auth_token)
    except ValueError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console().print(f"Sena API on http://{bind_host}:{bind_port} · docs /docs · debug page /debug")
    uvicorn.run(
        create_app(settings),
        host=bind_host,
        port=bind_port,
        log_level=settings.logging.level.lower(),
        timeout_graceful_shutdown=5,
        proxy_headers=bool(settings.api.trusted_proxies),  # X-Forwarded-For only from listed proxies
        forwarded_allow_ips=settings.api.trusted_proxies or None,
    )
