"""run_extensions: run the extensions this turn needs, each in the sandbox, never failing the turn."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from extensions.sandbox import ExtensionFailed, ExtensionInvalid
from extensions.spec import ExtensionSpec
from graph.events import emit
from graph.recovery import disable_extension
from graph.services import Services
from graph.state import ExtensionResult, SenaContext, SenaState, last_user_text


def parameter_prompt(spec: ExtensionSpec, text: str) -> list[Any]:
    described = "\n".join(
        f"- {p.name} ({p.type}{', required' if p.required else ''}): {p.description}" for p in spec.parameters
    )
    return [
        SystemMessage(
            f"Fill in the parameters for the '{spec.name}' tool ({spec.description}) from the user's message.\n"
            f"Parameters:\n{described}\nUse only what the message says; leave out what it does not say. "
            "Answer with JSON."
        ),
        HumanMessage(text),
    ]


async def extract_parameters(
    spec: ExtensionSpec, text: str, runtime: Runtime[SenaContext], services: Services
) -> dict[str, Any]:
    """Ask the router model for the extension's parameters as schema-constrained JSON."""
    if not spec.parameters:
        return {}
    choice = services.models.choose("router", runtime.context.model_overrides.get("router"))
    model = services.chat_model(choice).with_structured_output(spec.parameter_schema(), method="json_schema")
    found: Any = await model.ainvoke(parameter_prompt(spec, text), config={"tags": ["nostream"]})
    known = {p.name for p in spec.parameters}
    return {k: v for k, v in (found or {}).items() if k in known and v is not None}


async def run_one(name: str, text: str, runtime: Runtime[SenaContext], services: Services) -> tuple[bool, str]:
    host = services.extension_runner()
    spec = host.spec(name)
    if spec is None or name not in host.names():
        return False, f"The {name} extension is not installed or is disabled."
    try:
        kwargs = await extract_parameters(spec, text, runtime, services)
    except Exception as exc:
        return False, f"Could not work out the {name} extension's parameters: {exc}"
    context = {"thread_id": runtime.context.thread(), "user_id": runtime.context.user_id}
    try:
        return True, await host.run(name, text, context, **kwargs)
    except ExtensionInvalid as exc:
        return False, f"The {name} extension needs more information: {exc}"
    except ExtensionFailed as exc:
        limit = services.settings.extensions.max_consecutive_failures
        return False, await disable_extension(host, name, exc, runtime, limit)
    except Exception as exc:  # an extension's failure is reported, never fatal
        return False, f"The {name} extension failed: {exc}"


async def run_extensions(state: SenaState, runtime: Runtime[SenaContext], services: Services) -> dict[str, Any]:
    """Run each required extension in turn with parameters taken from the message; one failing
    never stops the others, and every outcome (with its timing) goes into state and the feed."""
    intent = state.get("intent")
    text = last_user_text(state)
    results: list[ExtensionResult] = []
    for name in intent["required_extensions"] if intent else []:
        started = time.perf_counter()
        ok, output = await run_one(name, text, runtime, services)
        elapsed = round((time.perf_counter() - started) * 1000, 3)
        results.append(ExtensionResult(name=name, ok=ok, output=output[:2000], duration_ms=elapsed))
        emit(runtime, "extension_run", node="run_extensions", name=name, ok=ok, ms=elapsed)
    return {"extension_results": results}
