"""FastAPI dependencies as `Annotated` aliases: what a route needs, taken from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.event_bus import EventBus
from config.settings import Settings
from extensions.host import SandboxHost
from graph.session import Sena
from memory.store import MemoryStore
from storage.logs import LogStore


def get_sena(request: Request) -> Sena:
    sena: Sena = request.app.state.sena
    return sena


def get_bus(request: Request) -> EventBus:
    bus: EventBus = request.app.state.bus
    return bus


def get_logs(request: Request) -> LogStore:
    logs: LogStore = request.app.state.logs
    return logs


def get_settings(request: Request) -> Settings:
    return get_sena(request).services.settings


def get_memory(request: Request) -> MemoryStore:
    services = get_sena(request).services
    if services.memory is None:
        reason = services.memory_problem or "long-term memory is turned off (memory.long_term: false)"
        raise HTTPException(503, reason)
    return services.memory


def get_extensions(request: Request) -> SandboxHost:
    host = get_sena(request).services.extensions
    if not isinstance(host, SandboxHost):
        raise HTTPException(503, "extensions are turned off (extensions.enabled: false)")
    return host


SenaDep = Annotated[Sena, Depends(get_sena)]
BusDep = Annotated[EventBus, Depends(get_bus)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LogsDep = Annotated[LogStore, Depends(get_logs)]
MemoryDep = Annotated[MemoryStore, Depends(get_memory)]
ExtensionsDep = Annotated[SandboxHost, Depends(get_extensions)]
