"""run_extensions: run the extensions the intent asked for, reporting the missing ones."""

from __future__ import annotations

import time
from typing import Any

from langgraph.runtime import Runtime

from graph.services import Services
from graph.state import ExtensionResult, SenaContext, SenaState
from nodes import last_user_text


async def run_extensions(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Run each required extension in turn; one failing never stops the others."""
    intent = state.get("intent")
    available = set(services.extensions.names())
    text = last_user_text(state)
    context = {"thread_id": runtime.context.thread(), "user_id": runtime.context.user_id}
    results: list[ExtensionResult] = []
    for name in intent["required_extensions"] if intent else []:
        started = time.perf_counter()
        if name not in available:
            output, ok = f"The {name} extension is not installed.", False
        else:
            try:
                output, ok = await services.extensions.run(name, text, context), True
            except Exception as exc:  # an extension's failure is reported, never fatal
                output, ok = f"The {name} extension failed: {exc}", False
        elapsed = (time.perf_counter() - started) * 1000
        results.append(ExtensionResult(name=name, ok=ok, output=output[:2000], duration_ms=round(elapsed, 3)))
    return {"extension_results": results}
