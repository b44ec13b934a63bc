"""Extensions: the list, reload, generate, enable/disable."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import ExtensionsDep, SenaDep

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
async def extensions(host: ExtensionsDep) -> list[dict[str, Any]]:
    records = await asyncio.to_thread(host.records)
    return [{**asdict(r), "permissions": list(s.permissions) if (s := host.spec(r.name)) else []} for r in records]


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
async def generate(body: GenerateRequest, host: ExtensionsDep, sena: SenaDep) -> dict[str, Any]:
    """Have the code model write, test and register an extension (takes a while on a small model)."""
    from extensions.generate import generate_extension

    models = sena.services.models
    embedder = getattr(sena.services.memory, "embedder", None)
    embed = embedder.embed_array if embedder is not None else None
    result = await generate_extension(body.description, models.get(models.choose("code")), host, body.attempts, embed)
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
