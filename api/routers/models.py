"""Models: which model serves each role, and switching a role's model at runtime."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.deps import SenaDep
from config.settings import ROLES
from graph.session import SwitchRefused

router = APIRouter(prefix="/models", tags=["models"])


class Models(BaseModel):
    roles: dict[str, str] = Field(description="role -> the model serving it now (provider:name)")
    available: list[str] = Field(description="Models a role can be switched to ([]: any, with Ollama).")
    allow_runtime_switch: bool
    switch_cooldown_s: float


class SwitchRequest(BaseModel):
    model: str = Field(min_length=1, max_length=200, pattern=r"^[\w.:/+-]+$")


class Switched(BaseModel):
    role: str
    model: str = Field(description="provider:name now serving the role, from the next turn on")


@router.get("")
async def models(sena: SenaDep) -> Models:
    llm = sena.services.settings.llm
    return Models(
        roles=sena.models_in_use(),
        available=sena.models_available(),
        allow_runtime_switch=llm.allow_runtime_switch,
        switch_cooldown_s=llm.switch_cooldown_s,
    )


@router.put("/{role}", responses={403: {"description": "switching is off"}, 429: {"description": "cooldown"}})
async def switch(role: str, body: SwitchRequest, sena: SenaDep) -> Switched:
    """Serve `role` with another model from the next turn on (the chat's `/model ROLE NAME`)."""
    if role not in ROLES:
        raise HTTPException(404, f"No role {role!r}; roles: {', '.join(ROLES)}")
    try:
        choice = sena.switch_model(role, body.model)
    except SwitchRefused as exc:
        if exc.retry_after is None:
            raise HTTPException(403, str(exc)) from exc
        raise HTTPException(429, str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after))}) from exc
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return Switched(role=role, model=choice.label)
