"""Recovery branches: what the turn does when a node fails, so a turn is never lost.

LangGraph calls a node's `error_handler` once its retry policy is exhausted. The handlers
here record the failure in `errors` and steer the turn on: most steps are skipped; a failed
answer falls back to the configured model and, failing that, to a message that says what
went wrong and how to fix it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from langgraph.errors import NodeError
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.events import emit
from graph.services import Services
from graph.state import SenaContext, SenaState, StepError
from nodes.generate import answer_update, build_prompt, choose_model, stream_answer
from providers.registry import explain_model_error

log = logging.getLogger(__name__)

# The signature LangGraph injects into error handlers: (state, error: NodeError, runtime).
Handler = Callable[..., Awaitable[Command[str]]]
Route = Callable[[SenaState], str]


def step_error(node: str, exc: BaseException, message: str | None = None) -> StepError:
    return StepError(node=node, error=type(exc).__name__, message=message or str(exc) or type(exc).__name__)


def is_transient(exc: Exception) -> bool:
    """Tell whether retrying the same model call may help (the server was unreachable or slow)."""
    return isinstance(exc, (ConnectionError, TimeoutError, httpx.TransportError))


def skip_step(node: str, route: Route, defaults: dict[str, Any] | None = None) -> Handler:
    """Return a handler that records the failure, applies `defaults`, and routes on."""

    async def handler(state: SenaState, error: NodeError, runtime: Runtime[SenaContext]) -> Command[str]:
        base = {**state, **(defaults or {})}
        update = {**(defaults or {}), "errors": [*(base.get("errors") or []), step_error(node, error.error)]}
        goto = route({**base, **update})  # type: ignore[typeddict-item]
        emit(runtime, "recovered", node=node, action=f"skipped; continuing at {goto}")
        return Command(update=update, goto=goto)

    return handler


def recover_generation(services: Services) -> Handler:
    """Return the handler for a failed answer: fallback model, then a helpful message."""

    async def handler(state: SenaState, error: NodeError, runtime: Runtime[SenaContext]) -> Command[str]:
        failed = choose_model(state, runtime, services)
        explanation = explain_model_error(error.error, failed, services.settings.llm)
        errors = [*(state.get("errors") or []), step_error("generate", error.error, explanation)]
        emit(runtime, "model_error", node="generate", model=failed.label, message=explanation)
        fallback = services.models.fallback_for(failed)
        if fallback is not None:
            emit(runtime, "recovered", node="generate", action=f"answering with fallback {fallback.label}")
            try:
                prompt = build_prompt(state, services.settings.app.system_prompt)
                answer = await stream_answer(services.chat_model(fallback), prompt, runtime)
                return Command(
                    update={**answer_update(answer, fallback.label), "errors": errors}, goto="extract_learnings"
                )
            except Exception as exc:
                log.warning("fallback model %s failed too: %s", fallback.label, exc)
                errors.append(step_error("generate", exc, explain_model_error(exc, fallback, services.settings.llm)))
        answer = f"Sorry, I could not answer this time. {explanation}"
        emit(runtime, "token", text=answer)
        return Command(update={**answer_update(answer, "none"), "errors": errors}, goto="extract_learnings")

    return handler


def end_turn(node: str) -> Handler:
    """Return a handler for the last step: record the failure and finish the turn."""
    return skip_step(node, lambda _state: END)
