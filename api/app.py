"""The API app factory: `create_app()` builds FastAPI with a lifespan that opens Sena once.

The lifespan opens the checkpointer, models, memory store and extension host (`open_sena`),
the debug feed's event bus (fed by turns, the extension host and logging), and closes them
on shutdown. Routers are per resource under `/api/v1`; `/health` and the studio (`/studio`,
`/debug`: `api/studio`) sit outside.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import studio
from api.event_bus import BusLogHandler, EventBus
from api.routers import chat, debug, extensions, memory, telemetry, threads
from api.routers import models as models_router
from api.routers import settings as settings_router
from api.security import Guard, error_response
from config.errors import SenaError, StorageFull, classify
from config.settings import Settings, load_settings
from extensions.host import SandboxHost
from graph.session import Sena, open_sena
from ops.host import sample_host
from providers.registry import ChatModels
from storage.logs import LogStore

log = logging.getLogger(__name__)
VERSION = "0.1.0"


def create_app(settings: Settings | None = None, models: ChatModels | None = None, sena: Sena | None = None) -> FastAPI:
    """The API over a Sena it opens (`sena serve`), or over a running one (`sena chat` serves its own)."""
    settings = settings or (sena.services.settings if sena is not None else load_settings())
    bus = EventBus(settings.api.feed_buffer, settings.api.feed_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        handler = BusLogHandler(bus)
        logging.getLogger().addHandler(handler)
        given = sena
        opened = nullcontext(given) if given is not None else open_sena(settings, models=models)
        try:
            async with opened as running:
                app.state.sena = running
                app.state.bus = bus
                app.state.logs = LogStore.from_path(running.services.settings.database_path)
                running.listeners.append(bus.forward)  # every turn's node events, whoever runs it
                if isinstance(running.services.extensions, SandboxHost):
                    running.services.extensions.subscribe(bus.forward)
                if running.services.learner is not None:
                    running.services.learner.listeners.append(bus.forward)
                sampler = None
                telemetry, every = running.services.telemetry, running.services.settings.telemetry.host_sample_s
                if telemetry is not None and every > 0:
                    data_dir = running.services.settings.app.data_dir
                    sampler = asyncio.create_task(sample_host(telemetry, data_dir, every), name="sena-host-sampler")
                log.info("Sena API ready")
                try:
                    yield
                finally:
                    if sampler is not None:
                        sampler.cancel()
                    app.state.logs.close()
                    running.listeners.remove(bus.forward)
                    if running.services.learner is not None:
                        running.services.learner.listeners.remove(bus.forward)
        finally:
            logging.getLogger().removeHandler(handler)

    app = FastAPI(
        title="Sena API",
        version=VERSION,
        description="Chat, history, memory, extensions, debug feed and telemetry of a local Sena.",
        lifespan=lifespan,
    )
    app.add_middleware(Guard, settings=settings.api)  # CORS, added after, answers preflights first
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    routers = (chat, threads, memory, extensions, models_router, debug, telemetry, settings_router)
    for router in (r.router for r in routers):
        app.include_router(router, prefix="/api/v1")

    @app.get("/health", tags=["health"])
    async def health(request: Request) -> dict[str, object]:
        sena = getattr(request.app.state, "sena", None)
        services = sena.services if sena else None
        return {
            "status": "ok" if services else "starting",
            "version": VERSION,
            "pid": os.getpid(),
            "memory": "on" if services and services.memory else (services.memory_problem if services else None),
            "extensions": services.extensions.names() if services else [],
        }

    app.mount("/studio/static", StaticFiles(directory=studio.STATIC), name="studio-static")
    app.include_router(studio.router)

    install_error_handlers(app)
    return app


STATUS_BY_KIND = {"user_input": 400, "llm": 503, "memory": 503, "extension": 502, "database": 503, "config": 500}


def http_status(error: SenaError) -> int:
    """The HTTP status for a failure Sena can explain (507 when the disk is full)."""
    return 507 if isinstance(error, StorageFull) else STATUS_BY_KIND.get(error.kind, 500)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON with a message; no stack trace leaves the server."""

    @app.exception_handler(StarletteHTTPException)  # FastAPI's HTTPException and the router's 404/405
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error_response(422, f"The request is not valid: {problems}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        error = classify(exc)
        if error.kind == "internal" and not isinstance(exc, SenaError):
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            message = f"Sena hit an internal error ({type(exc).__name__})."
            return error_response(500, message, "The server log has details.", "internal")
        log.warning("%s %s failed: %s", request.method, request.url.path, error)
        return error_response(http_status(error), error.message, error.hint, error.kind)
