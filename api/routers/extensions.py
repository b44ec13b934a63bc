"""Extensions: the list, reload, generate, enable/disable."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from api.deps import BusDep, ExtensionsDep, SenaDep, SettingsDep

router = APIRouter(prefix="/extensions", tags=["extensions"])


class ReloadRequest(BaseModel):
    name: str | None = Field(default=None, max_length=100, description="One extension; all when omitted.")


class GenerateRequest(BaseModel):
    description: str = Field(min_length=5, max_length=1000)
    attempts: int = Field(default=3, ge=1, le=5)


class Toggle(BaseModel):
    enabled: bool


class Answer(BaseModel):
    approve: bool = Field(description="true performs the action; false drops it")


@router.get("")
async def extensions(host: ExtensionsDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Each extension with its origin, status, runs, errors, the permissions it asks for and the
    grants the configuration gives it (extensions.grants)."""
    records = await asyncio.to_thread(host.records)
    return [
        {
            **asdict(r),
            "permissions": list(s.permissions) if (s := host.spec(r.name)) else [],
            "grants": list(settings.extensions.grants.get(r.name, [])),
        }
        for r in records
    ]


def record_of(host: ExtensionsDep, name: str) -> Any:
    found = host.registry.get(name)
    if found is None:
        raise HTTPException(404, f"No extension named {name!r}. GET /api/v1/extensions lists them.")
    return found


@router.get("/{name}/source", response_class=PlainTextResponse)
async def source(name: str, host: ExtensionsDep) -> PlainTextResponse:
    """The extension's source file, as loaded (read-only; edit the file and it reloads)."""
    record = await asyncio.to_thread(record_of, host, name)
    try:
        text = await asyncio.to_thread(Path(record.file_path).read_text, encoding="utf-8")
    except OSError as exc:
        raise HTTPException(404, f"The source of {name!r} cannot be read: {exc.strerror}.") from exc
    return PlainTextResponse(text, media_type="text/x-python")


@router.get("/{name}/runs")
async def runs(
    name: str, host: ExtensionsDep, sena: SenaDep, days: Annotated[float, Query(gt=0, le=3650)] = 7
) -> list[dict[str, Any]]:
    """The extension's runs in turns over the last `days` (telemetry), newest first."""
    await asyncio.to_thread(record_of, host, name)
    telemetry = sena.services.telemetry
    if telemetry is None:
        return []
    await asyncio.to_thread(telemetry.flush)
    rows = await asyncio.to_thread(telemetry.store.metrics, time.time() - days * 86400, "extension_ms")
    mine = [r for r in rows if r["subject"] == name]
    return [
        {"ts": r["ts"], "ms": r["value"], "ok": bool(r["ok"]), "thread_id": r["thread_id"]} for r in reversed(mine)
    ][:200]


@router.post("/reload")
async def reload(body: ReloadRequest, host: ExtensionsDep) -> dict[str, Any]:
    if body.name:
        try:
            return {"message": await asyncio.to_thread(host.reload, body.name)}
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
    report = await asyncio.to_thread(host.load_all)
    return {"loaded": report.loaded, "rejected": report.rejected}


@router.post("/generate")
async def generate(body: GenerateRequest, host: ExtensionsDep, sena: SenaDep, bus: BusDep) -> dict[str, Any]:
    """Have the code model write, test and register an extension (takes a while on a small model).
    Each attempt is also told on the debug feed as it happens (`generation_attempt`)."""
    from extensions.generate import generate_extension

    models = sena.services.models
    embedder = getattr(sena.services.memory, "embedder", None)
    embed = embedder.embed_array if embedder is not None else None
    code_model = models.get(models.choose("code"))
    result = await generate_extension(body.description, code_model, host, body.attempts, embed, bus.forward)
    return {**asdict(result), "path": str(result.path) if result.path else None}


@router.put("/{name}/toggle")
async def toggle(name: str, body: Toggle, host: ExtensionsDep) -> dict[str, Any]:
    try:
        await asyncio.to_thread(host.set_enabled, name, body.enabled)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    return {"name": name, "enabled": body.enabled}


@router.get("/confirmations")
async def confirmations(host: ExtensionsDep) -> list[dict[str, Any]]:
    """Actions extensions asked for that wait for the user (a delete, for instance)."""
    return [{**asdict(p), "question": p.question} for p in host.confirmations.pending()]


@router.post("/confirmations/{action_id}")
async def confirm(action_id: str, body: Answer, host: ExtensionsDep) -> dict[str, Any]:
    """The user's answer to one pending action: approve performs it now, in the host."""
    try:
        if not body.approve:
            host.confirmations.deny(action_id)
            return {"id": action_id, "done": False, "message": "Cancelled."}
        return {
            "id": action_id,
            "done": True,
            "message": await asyncio.to_thread(host.confirmations.approve, action_id),
        }
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    except (PermissionError, FileNotFoundError) as exc:
        raise HTTPException(409, f"Not done: {exc}") from exc
