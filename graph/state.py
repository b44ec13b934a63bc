"""The graph's state, its per-run context, and the small records nodes exchange.

State is checkpointed after every node, so it stays small: the conversation lives once
in `messages`; everything else is a short record about the current turn.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, RemoveMessage
from langgraph.config import get_config
from langgraph.graph.message import add_messages

from config.settings import IntentRoutingSettings

if TYPE_CHECKING:
    from storage.conversation_log import ConversationLog


class IntentRecord(TypedDict):
    intent_type: str
    recommended_model: str
    required_extensions: list[str]
    needs_memory: bool
    confidence: float
    source: Literal["rules", "examples", "router", "default"]


def intent_record(routing: IntentRoutingSettings, intent: str, confidence: float, source: Any) -> IntentRecord:
    """Build the record for `intent` from its configured route."""
    route = routing.intents.get(intent) or routing.intents.get(routing.default_intent)
    return IntentRecord(
        intent_type=intent,
        recommended_model=route.recommended_model if route else "fast",
        required_extensions=list(route.required_extensions) if route else [],
        needs_memory=route.needs_memory if route else True,
        confidence=round(confidence, 3),
        source=source,
    )


class MemoryPlan(TypedDict):
    use_short_term: bool
    use_long_term: bool
    use_conversations: bool  # past exchanges too ("what did we discuss about X")
    reason: str


class Snippet(TypedDict):
    id: str
    source: Literal["long_term", "conversation"]
    text: str
    score: float
    date: str  # when the memory was last stated ("YYYY-MM-DD HH:MM"; a day for an exchange), "" if unknown


class ExtensionResult(TypedDict):
    name: str
    ok: bool
    output: str
    duration_ms: float


class StepError(TypedDict):
    node: str
    error: str  # the exception's class
    message: str  # what went wrong and what to do (a SenaError's message and hint)
    kind: NotRequired[str]  # the SenaError kind: llm, memory, extension, database, ...


class SenaState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    intent: IntentRecord | None
    memory_plan: MemoryPlan | None
    recent_ids: list[str]
    snippets: list[Snippet]
    extension_results: list[ExtensionResult]
    answer: str
    model_used: str
    errors: list[StepError]
    timings: dict[str, float]


TURN_RESET: dict[str, Any] = {
    "intent": None,
    "memory_plan": None,
    "recent_ids": [],
    "snippets": [],
    "extension_results": [],
    "answer": "",
    "model_used": "",
    "errors": [],
}
"""Per-turn keys cleared by the first node, so nothing leaks from the previous turn."""


@dataclass(kw_only=True)
class SenaContext:
    """Per-run values: who is talking in which thread, and per-run model choices."""

    thread_id: str = ""
    user_id: str = "local"
    model_overrides: dict[str, str] = field(default_factory=dict)
    extensions: tuple[str, ...] = ()
    """Extensions the user asked for by name this turn (`/ext NAME ...`), run whatever the intent."""
    replay: Literal["", "live", "recorded"] = ""
    """Set when re-running a past turn: no learning or logging, and with `recorded`, no model calls."""

    def thread(self) -> str:
        """Return the thread id, falling back to the run's config (clients such as the
        LangGraph dev server name the thread there and send no context)."""
        if self.thread_id:
            return self.thread_id
        return str(get_config().get("configurable", {}).get("thread_id", "default"))


def window_size(short_term_messages: int) -> int:
    """Messages the checkpointed state keeps: the short-term buffer, and this turn's exchange."""
    return short_term_messages + 2


def user_message(
    text: str, at: float | None = None, mode: str | None = None, context: dict[str, Any] | None = None
) -> HumanMessage:
    """Build the human message that starts a turn, stamped with its time for the short-term buffer.

    Its id is fixed here, not by the `add_messages` reducer: a replay from the turn's first
    checkpoint applies the input again, and the turn's recordings are keyed by this id. `at` dates
    a message said earlier (an import, a benchmark replaying a dated conversation). A client's
    `mode` (the role that answers) and `context` (facts about the request) travel with the
    message, so they are checkpointed and a replay sees them.
    """
    extra: dict[str, Any] = {"ts": at or time.time()}
    if mode:
        extra["mode"] = mode
    if context:
        extra["context"] = dict(context)
    return HumanMessage(content=text, id=str(uuid.uuid4()), additional_kwargs=extra)


def turn_input(
    text: str, at: float | None = None, mode: str | None = None, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Return the graph input for one user message."""
    return {"messages": [user_message(text, at, mode, context)]}


def last_user_message(state: SenaState) -> HumanMessage | None:
    """The newest human message (the one this turn answers), if any."""
    return next((m for m in reversed(state.get("messages") or []) if isinstance(m, HumanMessage)), None)


def last_user_text(state: SenaState) -> str:
    """The text of the newest human message (the one this turn answers); "" when there is none."""
    message = last_user_message(state)
    return message.text if message is not None else ""


async def beyond_window(
    messages: list[AnyMessage], thread_id: str, keep: int, log: ConversationLog | None
) -> list[RemoveMessage]:
    """Removals for the messages the checkpoint no longer needs: beyond the last `keep` and safe in the log.

    A message leaves the state only once the conversation log holds it, so nothing the user said
    is lost (a thread from before the log kept ids keeps its messages until `sena threads compact`).
    """
    ids = [str(m.id) for m in messages[:-keep] if m.id]
    if not ids or log is None:
        return []
    logged = await asyncio.to_thread(log.logged_ids, thread_id, ids)
    return [RemoveMessage(id=i) for i in ids if i in logged]
