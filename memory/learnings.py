"""Learn from a turn: the facts a message states (`memory/extraction.py`), then ADD / UPDATE /
DELETE / NONE them against what is remembered.

mem0 >= 2 only adds, so the decision against similar existing memories is made here, and an
UPDATE keeps the old text in mem0's history. Memories with a subject and attribute are decided
without the model; older ones go to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage

from memory.extraction import (
    Fact,
    Remarks,
    content_words,
    extract_facts,
    grounded,
    stem,
    worded_attribute,
    worth_learning,
)
from memory.store import MemoryRecord
from memory.wording import RELATIVES

log = logging.getLogger(__name__)

Action = Literal["ADD", "UPDATE", "DELETE", "NONE"]

SINGLE_VALUED = frozenset({"name", "home", "job", "workplace", "school", "age", "birthday", "partner", "diet"})
"""Attributes a subject has one value of at a time: a new value replaces the old one (kept in history)."""

DECISION_SCHEMA: dict[str, Any] = {
    "title": "Decision",
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["ADD", "UPDATE", "DELETE", "NONE"]},
        "target": {"type": "integer", "minimum": 0, "maximum": 9},
        "text": {"type": "string", "maxLength": 200},
    },
    "required": ["action", "target", "text"],
}

DECIDE_PROMPT = (
    'A personal assistant\'s memory holds these facts:\n{existing}\nA new fact arrived: "{fact}"\n'
    "Choose one action. UPDATE: the new fact changes or corrects one existing fact; give its number and "
    "the corrected fact as one sentence that keeps what is still true (for example 'The user's sister Lena "
    "lives in Lyon'). DELETE: the new fact says an existing fact is no longer true and gives nothing in its "
    "place; give its number. NONE: the new fact is already known. ADD: the new fact is about something else."
)


@dataclass(frozen=True)
class Decision:
    action: Action
    fact: Fact
    target: MemoryRecord | None = None
    reason: str = ""


class MemoryWriter(Protocol):
    """The part of `MemoryStore` learning needs."""

    def search(
        self, query: str, user_id: str, limit: int | None = None, threshold: float | None = None
    ) -> list[MemoryRecord]: ...

    def add(self, text: str, user_id: str, kind: str = "fact", metadata: dict[str, Any] | None = None) -> Any: ...

    def update(self, memory_id: str, text: str, metadata: dict[str, Any] | None = None) -> Any: ...

    def delete(self, memory_id: str) -> None: ...


class ExchangeWriter(Protocol):
    """Where finished exchanges go (`ConversationIndex`)."""

    def add(self, user_id: str, thread_id: str, user_text: str, answer: str, ts: float | None = None) -> str: ...


def normalise(text: str) -> str:
    return " ".join(sorted(content_words(text)))


def alike(old: str, new: str, attribute: str, subject: str = "user") -> bool:
    """Whether two facts give the same attribute: both worded so ("lives in Paris", "moved to
    Berlin"), or sharing a word beside their subject. The small model sometimes labels a mood
    with the attribute of the event before it; that must not replace the event."""
    if worded_attribute(old) == attribute == worded_attribute(new):
        return True
    shared = {stem(w) for w in content_words(old)} & {stem(w) for w in content_words(new)}
    return bool(shared - {stem(w) for w in content_words(subject) | RELATIVES})


def same_subject(a: str, b: str) -> bool:
    left, right = set(a.split()), set(b.split())
    return left <= right or right <= left


async def decide(model: BaseChatModel, fact: Fact, similar: list[MemoryRecord]) -> Decision:
    """Decide what `fact` does to memory given the most similar existing memories.

    Memories learned with a subject and attribute are decided without the model: a new value of
    a single-valued attribute of the same subject (home, job, name...) replaces the old one, and
    anything else is added, so an update never erases an unrelated detail. Older memories without
    them go to the model, as before.
    """
    if not similar:
        return Decision("ADD", fact, reason="nothing similar")
    for record in similar:
        if normalise(record.text) == normalise(fact.text):
            return Decision("NONE", fact, record, "already known")
    keyed = [r for r in similar if "attribute" in r.metadata]
    if fact.metadata.get("attribute"):
        for record in keyed:
            same = record.metadata.get("attribute") == fact.attribute and fact.attribute in SINGLE_VALUED
            if (
                same
                and same_subject(str(record.metadata.get("subject", "")), fact.subject)
                and alike(record.text, fact.text, fact.attribute, fact.subject)
            ):
                return Decision("UPDATE", fact, record, f"new {fact.attribute} of {fact.subject}")
        similar = [r for r in similar if "attribute" not in r.metadata]
        if not similar:
            return Decision("ADD", fact, reason="a different detail")
    existing = "\n".join(f"{i + 1}. {r.text}" for i, r in enumerate(similar))
    prompt = [HumanMessage(DECIDE_PROMPT.format(existing=existing, fact=fact.text))]
    choice: Any = await model.with_structured_output(DECISION_SCHEMA, method="json_schema").ainvoke(
        prompt, config={"tags": ["nostream"]}
    )
    action = choice.get("action", "ADD")
    index = int(choice.get("target") or 0) - 1
    if action == "UPDATE" and 0 <= index < len(similar):
        merged = str(choice.get("text") or "").strip()
        # The merged sentence must rest on the new fact and old memory and actually change the
        # old memory (small models sometimes echo it); otherwise the new fact replaces it as said.
        old = similar[index].text
        usable = merged and grounded(merged, fact.text + " " + old) and normalise(merged) != normalise(old)
        text = merged if usable else fact.text
        return Decision(
            "UPDATE", Fact(text, fact.kind, fact.subject, fact.attribute, fact.metadata), similar[index], "model"
        )
    if action == "DELETE" and 0 <= index < len(similar):
        return Decision("DELETE", fact, similar[index], "model")
    if action == "NONE":
        return Decision("NONE", fact, None, "model")
    return Decision("ADD", fact, reason="model" if action == "ADD" else f"model chose {action} without a target")


def apply(store: MemoryWriter, user_id: str, decision: Decision) -> None:
    if decision.action == "ADD":
        store.add(decision.fact.text, user_id, kind=decision.fact.kind, metadata=decision.fact.metadata or None)
    elif decision.action == "UPDATE" and decision.target is not None:
        store.update(decision.target.id, decision.fact.text, decision.fact.metadata or None)
    elif decision.action == "DELETE" and decision.target is not None:
        store.delete(decision.target.id)


class Learner:
    """Run learning after a turn, off the answer's path.

    The user sees the full answer and can type at once; the next turn on the same thread
    waits for the previous turn's learning (`wait`) only while it is still running.
    """

    def __init__(
        self,
        store: MemoryWriter,
        model: BaseChatModel,
        similar_limit: int = 5,
        similar_threshold: float = 0.35,
        conversations: ExchangeWriter | None = None,
        remarks: Remarks | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.conversations = conversations
        self.remarks = remarks
        """Tells passing remarks from facts ("I always mix these up" is not learned)."""
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Told of every memory write (the API's debug feed listens)."""
        self.similar_limit = similar_limit
        self.similar_threshold = similar_threshold
        self._tasks: dict[str, asyncio.Task[list[Decision]]] = {}
        self.results: dict[str, list[Decision]] = {}

    async def learn(
        self, user_id: str, user_text: str, thread_id: str | None = None, now: datetime | None = None
    ) -> list[Decision]:
        """Extract, decide and apply; return the decisions taken. `now` is when it was said."""
        decisions: list[Decision] = []
        for fact in await extract_facts(self.model, user_text, now, self.remarks):
            if any(normalise(d.fact.text) == normalise(fact.text) for d in decisions):
                continue  # said twice in one message
            similar = await asyncio.to_thread(
                self.store.search, fact.text, user_id, self.similar_limit, self.similar_threshold
            )
            written = {d.fact.text for d in decisions}
            similar = [r for r in similar if r.text not in written]  # one message's facts never replace each other
            decision = await decide(self.model, fact, similar)
            started = time.perf_counter()
            await asyncio.to_thread(apply, self.store, user_id, decision)
            ms = round((time.perf_counter() - started) * 1000, 3)
            log.info("memory %s: %s (%s)", decision.action, fact.text, decision.reason)
            decisions.append(decision)
            self._tell(thread_id, decision, ms)
        return decisions

    def _tell(self, thread_id: str | None, decision: Decision, ms: float) -> None:
        event = {
            "event": "memory_write",
            "thread_id": thread_id,
            "action": decision.action,
            "text": decision.fact.text,
            "replaces": decision.target.text if decision.target else None,
            "ms": ms,
        }
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop learning
                log.exception("memory listener failed")

    def submit(
        self,
        thread_id: str,
        user_id: str,
        user_text: str,
        intent: str | None = None,
        answer: str = "",
        said_at: float | None = None,
    ) -> bool:
        """Start learning from this turn in the background; False when there is nothing to do.

        The exchange is kept for "what did we discuss" recall (greetings are not); facts are
        extracted only from turns that may state some.
        """
        learn = worth_learning(user_text, intent)
        keep = self.conversations is not None and bool(answer.strip()) and intent != "greeting"
        if not (learn or keep):
            return False

        previous = self._tasks.get(thread_id)

        async def run() -> list[Decision]:
            if previous is not None:  # keep one thread's writes in order
                await asyncio.gather(previous, return_exceptions=True)
            if keep and self.conversations is not None:
                try:
                    await asyncio.to_thread(self.conversations.add, user_id, thread_id, user_text, answer, said_at)
                except Exception as exc:
                    log.warning("storing the exchange failed: %s", exc)
            try:
                when = datetime.fromtimestamp(said_at) if said_at is not None else None
                decisions = await self.learn(user_id, user_text, thread_id, when) if learn else []
            except Exception as exc:  # learning is best effort; the turn is already saved
                log.warning("learning from a turn failed: %s", exc)
                decisions = []
            self.results[thread_id] = decisions
            return decisions

        self._tasks[thread_id] = asyncio.get_running_loop().create_task(run())
        return True

    async def wait(self, thread_id: str) -> None:
        task = self._tasks.get(thread_id)
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def drain(self) -> None:
        """Finish all pending learning (at shutdown)."""
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
