"""Recovery: every strategy Sena uses to carry a turn through a failure, in one place.

| failure                                   | strategy                                   | used by          |
|-------------------------------------------|--------------------------------------------|------------------|
| model server unreachable or slow          | retry (transient errors, `llm.retries`)    | generate         |
| prompt longer than the model's context    | `smaller_context`: same model, short prompt | generate         |
| the role's model fails                    | the fallback model (`llm.fallback`)        | generate         |
| every model fails                         | an answer that explains the failure        | generate         |
| memory store fails                        | `skip_memory`: recent messages only        | retrieve         |
| an extension fails N times in a row       | `disable_extension`                        | run_extensions   |
| any other step fails                      | `skip_step`: safe defaults, route on       | the other nodes  |

LangGraph calls a node's `error_handler` once its retry policy is exhausted; nodes that degrade
inside themselves (retrieve, run_extensions) call the strategy functions here. Each failure is
recorded in `errors` as the `SenaError` kind, message and hint (`config/errors.py`), which is
what the chat prints, the API returns and telemetry counts. The user's message is checkpointed
before any of this runs, so even an unrecoverable failure leaves a turn that can be resumed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.errors import NodeError
from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from config.errors import ContextOverflow, Kind, classify
from extensions.host import ExtensionHost
from extensions.sandbox import ExtensionFailed
from graph.events import emit
from graph.services import Services
from graph.state import SenaContext, SenaState, StepError, last_user_text
from providers.registry import ModelChoice, explain_model_error

log = logging.getLogger(__name__)

# The signature LangGraph injects into error handlers: (state, error: NodeError, runtime).
Handler = Callable[..., Awaitable[Command[str]]]
Route = Callable[[SenaState], str]

SMALL_CONTEXT_CHARS = 2000
"""How much of the user's message `smaller_context` keeps (its end, where the question usually is)."""


def step_error(node: str, exc: BaseException, where: Kind = "internal", message: str | None = None) -> StepError:
    error = classify(exc, where)
    return StepError(node=node, error=type(exc).__name__, kind=error.kind, message=message or str(error))


def is_transient(exc: Exception) -> bool:
    """Tell whether retrying the same model call may help (the server was unreachable or slow)."""
    return isinstance(exc, (ConnectionError, TimeoutError, httpx.TransportError))


def skip_step(node: str, route: Route, defaults: dict[str, Any] | None = None, where: Kind = "internal") -> Handler:
    """Return a handler that records the failure (as a `where` error), applies `defaults`, and routes on."""

    async def handler(state: SenaState, error: NodeError, runtime: Runtime[SenaContext]) -> Command[str]:
        base = {**state, **(defaults or {})}
        failure = step_error(node, error.error, where)
        update = {**(defaults or {}), "errors": [*(base.get("errors") or []), failure]}
        goto = route({**base, **update})  # type: ignore[typeddict-item]
        emit(runtime, "recovered", node=node, action=f"skipped; continuing at {goto}", strategy="skip step")
        return Command(update=update, goto=goto)

    return handler


def end_turn(node: str, where: Kind = "internal") -> Handler:
    """Return a handler for the last step: record the failure and finish the turn."""
    return skip_step(node, lambda _state: END, where=where)


def smaller_context(state: SenaState, system_prompt: str) -> list[BaseMessage]:
    """The shortest useful prompt: the system prompt and the end of the user's message, with no
    history, memories or extension output (what made the prompt too long)."""
    return [SystemMessage(system_prompt), HumanMessage(last_user_text(state)[-SMALL_CONTEXT_CHARS:])]


@dataclass(frozen=True)
class Answering:
    """How the generate node answers, handed to its recovery by the builder: the graph's internals
    never import a node."""

    choose: Callable[[SenaState, Runtime[SenaContext], Services], ModelChoice]
    prompt: Callable[[SenaState, str], list[BaseMessage]]
    stream: Callable[[BaseChatModel, list[BaseMessage], Runtime[SenaContext]], Awaitable[str]]
    update: Callable[[str, str], dict[str, Any]]


def recover_generation(services: Services, answering: Answering) -> Handler:
    """Return the handler for a failed answer: a smaller context if the prompt did not fit,
    the fallback model, then an answer that says what went wrong and how to fix it."""
    choose_model, build_prompt, stream_answer, answer_update = (
        answering.choose,
        answering.prompt,
        answering.stream,
        answering.update,
    )

    async def handler(state: SenaState, error: NodeError, runtime: Runtime[SenaContext]) -> Command[str]:
        failed = choose_model(state, runtime, services)
        explained = explain_model_error(error.error, failed, services.settings.llm)
        errors = [*(state.get("errors") or []), step_error("generate", error.error, "llm", str(explained))]
        emit(runtime, "model_error", node="generate", model=failed.label, message=str(explained), kind=explained.kind)
        system_prompt = services.settings.app.system_prompt
        overflow = isinstance(explained, ContextOverflow)
        prompt = smaller_context(state, system_prompt) if overflow else build_prompt(state, system_prompt)
        attempts: list[tuple[ModelChoice, str]] = []
        if overflow:
            attempts.append((failed, "smaller context"))
        if (fallback := services.models.fallback_for(failed)) is not None:
            attempts.append((fallback, f"fallback model {fallback.label}"))
        for choice, strategy in attempts:
            emit(runtime, "recovered", node="generate", action=f"answering with {strategy}", strategy=strategy)
            started = time.perf_counter()
            try:
                answer = await stream_answer(services.chat_model(choice), prompt, runtime)
            except Exception as exc:
                log.warning("recovery (%s) failed too: %s", strategy, exc)
                why = explain_model_error(exc, choice, services.settings.llm)
                errors.append(step_error("generate", exc, "llm", str(why)))
                continue
            timings = {**(state.get("timings") or {}), "generate": round((time.perf_counter() - started) * 1000, 3)}
            update = {**answer_update(answer, choice.label), "errors": errors, "timings": timings}
            return Command(update=update, goto="extract_learnings")
        answer = f"Sorry, I could not answer this time. {explained}"
        emit(runtime, "token", text=answer)
        return Command(update={**answer_update(answer, "none"), "errors": errors}, goto="extract_learnings")

    return handler


def skip_memory(state: SenaState, runtime: Runtime[SenaContext], exc: Exception) -> dict[str, Any]:
    """The memory store failed: record why; the turn goes on with the recent messages only."""
    why = classify(exc, "memory")
    error = step_error(
        "retrieve", exc, "memory", f"Memory search failed: {why.message} This answer uses recent messages only."
    )
    emit(runtime, "memory_error", node="retrieve", message=error["message"])
    emit(runtime, "recovered", node="retrieve", action="answering without long-term memory", strategy="skip memory")
    return {"errors": [*(state.get("errors") or []), error]}


async def disable_extension(
    host: ExtensionHost, name: str, exc: ExtensionFailed, runtime: Runtime[SenaContext], limit: int
) -> str:
    """An extension failed: after `limit` failures in a row, disable it (the user re-enables it).

    Returns what the answer should say about the failure."""
    if exc.failures < limit:
        return f"The {name} extension failed: {exc}"
    reason = f"disabled after {exc.failures} failures in a row: {exc}"
    await host.disable(name, reason)
    message = (
        f"{exc}. {name} failed {exc.failures} times in a row and has been disabled; "
        f"fix it and run `sena extensions enable {name}`."
    )
    emit(runtime, "extension_disabled", node="run_extensions", name=name, message=message)
    emit(runtime, "recovered", node="run_extensions", action=f"disabled {name}", strategy="disable extension")
    return message
