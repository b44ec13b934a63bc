"""Settings: the effective configuration with each value's source; edit, apply live or save, revert.

An edit is validated as at start (`config.editing.validated`), then written to the YAML file
that holds its section, comments kept. Keys in `LIVE` also take effect at once in the running
Sena; any other saved change is listed under `restart_needed` until the server restarts.
Secrets are masked and cannot be edited here. Each edit is kept (in this process) with the
value it replaced, so it can be reverted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.deps import SenaDep
from config import editing
from config.errors import ConfigError
from config.settings import ROLES, load_settings
from graph.session import Sena, SwitchRefused

log = logging.getLogger(__name__)
router = APIRouter(prefix="/settings", tags=["settings"])

LIVE_MEMORY = ("search_threshold", "search_limit", "recency_weight", "keyword_weight", "conversation_limit",
               "topic_min_mentions", "ask_model_when_unsure")  # fmt: skip
LIVE_ROUTING = ("examples_threshold", "router_threshold", "use_router_model")


def live_keys(sena: Sena) -> set[str]:
    provider = sena.services.settings.llm.provider
    return {
        *(f"memory.{k}" for k in LIVE_MEMORY),
        "memory.remark_threshold",
        *(f"intent_routing.{k}" for k in LIVE_ROUTING),
        "logging.level",
        *(f"llm.roles.{role}.{provider}_model" for role in ROLES),
    }


def apply_live(sena: Sena, key: str, value: Any) -> None:
    """Make a validated value take effect in the running Sena."""
    settings = sena.services.settings
    section, _, name = key.partition(".")
    if key.startswith("llm.roles."):
        role = next(r for r in ROLES if r == key.split(".")[2])
        sena.switch_model(role, str(value))  # the same rules as /model: cooldown, allow_runtime_switch
        setattr(settings.llm.roles[role], key.split(".")[3], value)
        return
    if section == "memory":
        setattr(settings.memory, name, value)
        remarks = sena.services.learner.remarks if sena.services.learner is not None else None
        if name == "remark_threshold" and remarks is not None:
            remarks.threshold = value
    elif section == "intent_routing":
        setattr(settings.intent_routing, name, value)
    elif key == "logging.level":
        settings.logging.level = value
        logging.getLogger().setLevel(value)


class Edit(BaseModel):
    key: str = Field(min_length=1, max_length=200, pattern=r"^[a-z_][a-z0-9_.]*$")
    value: Any = Field(description="The new value, as JSON (a number, text, true/false, a list).")


class Revert(BaseModel):
    edit: Annotated[int, Field(ge=1)]


def edits_of(request: Request) -> list[dict[str, Any]]:
    if not hasattr(request.app.state, "settings_edits"):
        request.app.state.settings_edits = []
        request.app.state.settings_edit_ids = itertools.count(1)
    edits: list[dict[str, Any]] = request.app.state.settings_edits
    return edits


def restart_needed(running: list[editing.Entry]) -> list[str]:
    """Keys whose saved value differs from the running one (`running`: the running settings' entries)."""
    try:
        saved = {e.key: e.value for e in editing.entries(load_settings())}
    except ConfigError:
        return ["(the files no longer load: see the server log)"]
    return sorted(e.key for e in running if not e.secret and saved.get(e.key, e.value) != e.value)


@router.get("")
async def settings_view(request: Request, sena: SenaDep) -> dict[str, Any]:
    """Every setting with its value, default and source; which can change live; which saved
    changes wait for a restart; and this server's edits (revertable)."""
    live = live_keys(sena)
    rows = await asyncio.to_thread(editing.entries, sena.services.settings)
    return {
        "entries": [{**asdict(e), "live": e.key in live} for e in rows],
        "restart_needed": await asyncio.to_thread(restart_needed, rows),
        "edits": edits_of(request),
    }


async def change(request: Request, sena: Sena, key: str, value: Any, record: bool = True) -> dict[str, Any]:
    try:
        checked = await asyncio.to_thread(editing.validated, key, value)
    except ConfigError as exc:
        raise HTTPException(422, f"{exc}") from exc
    value = editing.value_at(checked, key)  # as the settings read it ("0.3" is 0.3)
    live = key in live_keys(sena)
    if live:
        try:
            apply_live(sena, key, value)
        except SwitchRefused as exc:
            headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
            raise HTTPException(429 if exc.retry_after else 403, str(exc), headers=headers) from exc
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
    path, old = await asyncio.to_thread(editing.write, key, value)
    log.info("setting %s = %r saved in %s%s", key, value, path.name, " and applied" if live else "")
    result = {"key": key, "value": value, "file": path.name, "live": live, "restart_needed": not live}
    if record:
        edits = edits_of(request)
        old_shown = None if old is editing.MISSING else old
        edit = {"id": next(request.app.state.settings_edit_ids), "at": time.time(), "old": old_shown,
                "old_missing": old is editing.MISSING, **result}  # fmt: skip
        edits.append(edit)
        result["edit"] = edit["id"]
    return result


@router.put("")
async def edit(body: Edit, request: Request, sena: SenaDep) -> dict[str, Any]:
    """Validate and save one setting; apply it at once when it can change live."""
    return await change(request, sena, body.key, body.value)


@router.post("/revert")
async def revert(body: Revert, request: Request, sena: SenaDep) -> dict[str, Any]:
    """Put back the value an edit replaced (removing the key from the file when it had none)."""
    found = next((e for e in edits_of(request) if e["id"] == body.edit), None)
    if found is None:
        raise HTTPException(404, f"No edit {body.edit} in this server's session.")
    if found["old_missing"]:
        await asyncio.to_thread(editing.write, found["key"], editing.MISSING)
        restored = editing.value_at(await asyncio.to_thread(load_settings), found["key"])
        if found["live"]:
            apply_live(sena, found["key"], restored)
        result = {"key": found["key"], "value": restored, "file": found["file"], "live": found["live"]}
    else:
        result = await change(request, sena, found["key"], found["old"], record=False)
    found["reverted"] = True
    return result
