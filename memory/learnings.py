"""Learn from a turn: extract facts about the user, then ADD / UPDATE / DELETE / NONE them.

Only the parts of a message that state something are read (a fact inside a question counts; a
question alone never makes a memory). Small local models break free-form JSON, so extraction
uses JSON-schema constrained output (llama.cpp grammar, Ollama `format`). Each fact carries
its subject and attribute, and relative dates ("next week") are made absolute against when it
was said. Facts not grounded in the user's own words are dropped. mem0 >= 2 only adds, so the
decision against similar existing memories is made here, and an UPDATE keeps the old text in
mem0's history.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from memory.dates import absolute, periods
from memory.store import MemoryRecord

log = logging.getLogger(__name__)

Action = Literal["ADD", "UPDATE", "DELETE", "NONE"]
KINDS = ("fact", "preference", "event", "relationship")

STOPWORDS = frozenset(
    "the a an and or but of to in on at for with from by is are was were be been am has have had do does did "
    "that this these those it its as into about than then so very just also user user's users their they them "
    "he she his her him who whom which what when where why how not no yes can will would should could".split()
)

ATTRIBUTES = (
    "name", "home", "job", "workplace", "school", "age", "birthday", "partner", "diet", "language",
    "family", "pet", "health", "hobby", "likes", "dislikes", "plan", "event", "trip", "possession", "mood", "other",
)  # fmt: skip
ATTRIBUTE_PATTERNS = (
    ("home", re.compile(r"\b(lives?|living|moved|moving|relocated) (in|to)\b|\bhome(town)? is\b", re.I)),
    ("workplace", re.compile(r"\bworks? (at|for)\b|\bemployed (at|by)\b", re.I)),
    ("job", re.compile(r"\bworks? as\b|\b(job|profession|occupation) is\b", re.I)),
    ("name", re.compile(r"\bname is\b|\b(is|are) called\b|\bgoes by\b", re.I)),
    ("age", re.compile(r"\b\d+ years? old\b|\bage is\b", re.I)),
    ("birthday", re.compile(r"\bbirthday\b|\bborn on\b", re.I)),
    ("diet", re.compile(r"\b(vegetarian|vegan|pescatarian|gluten-free|diet)\b", re.I)),
)  # fmt: skip
"""How a fact's wording shows its attribute; the small model's own choice is less reliable for these."""

DATED = frozenset({"event", "plan", "trip"})
"""Attributes whose facts happen at a time."""

SINGLE_VALUED = frozenset({"name", "home", "job", "workplace", "school", "age", "birthday", "partner", "diet"})
"""Attributes a subject has one value of at a time: a new value replaces the old one (kept in history)."""

FACTS_SCHEMA: dict[str, Any] = {
    "title": "Learnings",
    "type": "object",
    "properties": {
        "facts": {
            "type": "array",
            "maxItems": 5,
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string", "maxLength": 60},
                    "attribute": {"type": "string", "enum": list(ATTRIBUTES)},
                    "text": {"type": "string", "maxLength": 200},
                    "kind": {"type": "string", "enum": list(KINDS)},
                },
                "required": ["subject", "attribute", "text", "kind"],
            },
        }
    },
    "required": ["facts"],
}

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

EXTRACT_PROMPT = (
    "You pick out lasting facts from what the user says, for a personal assistant's memory: facts about "
    "the user, their preferences, events in their life (with dates when given; today is {today}), and "
    "the people, pets and things in their life. Write each fact as one short third-person sentence that "
    "names who it is about, for example 'The user's name is Sam', 'The user's sister Lena lives in Porto', "
    "'The user prefers tea', 'Lena moved to Lyon'. Say 'The user' only for the user themselves. "
    "subject: who the fact is about ('user', or the person's relation and name, such as 'sister Lena'). "
    "attribute: what about them the fact gives. An introduction such as 'I'm Sam' gives the user's name. "
    "A correction such as 'I live in Berlin now, not Paris' gives only the new value: 'The user lives in "
    "Berlin'. Keep separate facts separate: an event and a feeling about it are two facts. "
    "Return an empty list when nothing is stated."
)

DECIDE_PROMPT = (
    'A personal assistant\'s memory holds these facts:\n{existing}\nA new fact arrived: "{fact}"\n'
    "Choose one action. UPDATE: the new fact changes or corrects one existing fact; give its number and "
    "the corrected fact as one sentence that keeps what is still true (for example 'The user's sister Lena "
    "lives in Lyon'). DELETE: the new fact says an existing fact is no longer true and gives nothing in its "
    "place; give its number. NONE: the new fact is already known. ADD: the new fact is about something else."
)


@dataclass(frozen=True)
class Fact:
    text: str
    kind: str = "fact"
    subject: str = "user"
    attribute: str = "other"
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    """Stored with the memory: subject, attribute and, for a dated fact, the period it names."""


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


SELF = re.compile(r"\b(i|i'm|im|i've|ive|i'd|i'll|my|mine|we|we're|we've|our|myself)\b", re.IGNORECASE)
ASKS = re.compile(
    r"^\W*(what|which|who|whom|whose|where|when|why|how|is|are|am|was|were|do|does|did|can|could|would|will|"
    r"should|shall|have|has|had|may|might|any|anything|name|list|tell|give|recommend|suggest|explain|please|"
    r"write|draft|compose|make|create|help|find|search|look|show|open|launch|start|play|translate|summari[sz]e|"
    r"remind|check|fix|convert|calculate|plan|book|send|read|delete|remove|save|add|set|let's|lets)\b",
    re.IGNORECASE,
)
CLAUSE = re.compile(r"[,;:\u2013\u2014]|\s-\s|\b(?:so|but|and)\b(?=\s+(?:what|which|how|can|could|any|do|should)\b)")
INTRODUCTION = re.compile(r"\b(?i:i'm|i am|my name is|call me|this is)\s+[A-Z][\w'-]+")  # a capitalised name


def statements(user_text: str) -> str:
    """The parts of a message that may state something about the user; "" for none.

    A message is cut into sentences, and questions into clauses ("Since I'm learning Portuguese,
    | which apps help?"). A part is kept when it is not itself a question or an instruction and
    speaks of the user ("I", "my", "we"), so "Name a famous painter in Spain?" gives nothing and
    "I'm learning Portuguese for May. Which apps help?" gives its first sentence.
    """
    kept = []
    for sentence in re.findall(r"[^.!?\n]+[.!?]*", user_text):
        asking = sentence.rstrip().endswith("?")
        for part in CLAUSE.split(sentence) if asking else [sentence]:
            clause = part.strip()
            if not clause or clause.endswith("?") or ASKS.match(clause):
                continue
            if not asking or SELF.search(clause) or INTRODUCTION.search(clause):
                kept.append(clause.rstrip(".!") + ".")
    return " ".join(kept)


def worth_learning(user_text: str, intent: str | None = None) -> bool:
    """Whether the message may state a fact: a recall question, a pure question or request,
    a greeting or a one-word reply does not."""
    if intent == "memory_recall":
        return False
    said = statements(user_text)
    return bool(INTRODUCTION.search(said)) or len(content_words(said)) >= 2


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOPWORDS and len(w) > 2}


def stem(word: str) -> str:
    """A crude stem for grounding: "lives", "lived", "living" and "live" all become "liv"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word.removesuffix("e")[:5]


def grounded(fact: str, user_text: str, min_overlap: float = 0.6) -> bool:
    """Keep a fact only if most of its content words, and all of its names and numbers,
    come from the user's message."""
    words = content_words(fact)
    if not words:
        return False
    source = content_words(user_text)
    if INTRODUCTION.search(user_text):
        source |= {"name", "named", "called"}  # "I'm Noor" says the user's name is Noor
    specifics = {w.lower() for w in re.findall(r"\b(?:[A-Z][\w'-]+|\d[\w.:/-]*)", fact)} - {"the", "user", "user's"}
    if not all(w.removesuffix("'s") in source or w in source for w in specifics):
        return False
    stems = {stem(w) for w in source}
    hits = sum(1 for w in words if w in source or stem(w) in stems)
    return hits / len(words) >= min_overlap


def normalise(text: str) -> str:
    return " ".join(sorted(content_words(text)))


async def extract_facts(model: BaseChatModel, user_text: str, now: datetime | None = None) -> list[Fact]:
    """Ask the model for facts in the message's statements (schema-constrained), keeping only
    those grounded in them, with relative dates made absolute against `now` (when said)."""
    now = now or datetime.now()
    said = statements(user_text)
    if not (INTRODUCTION.search(said) or len(content_words(said)) >= 2):
        return []
    dated, _ = absolute(said, now)  # "next Friday" -> "on 13 March 2026", before the model sees it
    sentences = [(sentence, periods(sentence, now)) for sentence in re.findall(r"[^.!?]+[.!?]*", said)]
    prompt = [
        SystemMessage(EXTRACT_PROMPT.format(today=f"{now:%A} {now.date().isoformat()}")),
        HumanMessage(dated),
    ]
    result: Any = await model.with_structured_output(FACTS_SCHEMA, method="json_schema").ainvoke(
        prompt, config={"tags": ["nostream"]}
    )
    facts: list[Fact] = []
    for item in result.get("facts") or []:
        text = str(item.get("text") or "").strip()
        if not text:
            continue
        if not grounded(text, f"{said} {dated}"):
            log.info("dropping ungrounded fact %r", text)
            continue
        if any(content_words(text) <= content_words(f.text) for f in facts):
            continue  # small models repeat a fact in shorter words
        kind = item.get("kind") if item.get("kind") in KINDS else "fact"
        said_attribute = next((name for name, pattern in ATTRIBUTE_PATTERNS if pattern.search(text)), None)
        attribute = said_attribute or (item.get("attribute") if item.get("attribute") in ATTRIBUTES else "other")
        subject = subject_key(str(item.get("subject") or "user"))
        text, period = absolute(text, now)
        if period is None and (kind == "event" or attribute in DATED):  # small models drop an event's date:
            # give it back from the sentence the fact came from
            source, named = max(sentences, key=lambda pair: len(content_words(pair[0]) & content_words(text)))
            if named and len(content_words(source) & content_words(text)) >= 2:
                period = named[0]
                if period.words.split(" ", 1)[1].lower() not in text.lower():
                    text = f"{text.rstrip('.')} {period.words}"
        metadata: dict[str, Any] = {"subject": subject, "attribute": attribute}
        if period is not None:
            metadata.update(period_start=period.start.isoformat(), period_end=period.end.isoformat())
        facts.append(Fact(text, kind, subject, attribute, metadata))
    return facts


def subject_key(subject: str) -> str:
    """Who a fact is about, comparable across facts: "The user's sister Lena" -> "sister lena"."""
    words = [w for w in re.findall(r"[\w'-]+", subject.lower()) if w not in {"the", "user's", "users", "my", "a"}]
    if not words or words == ["user"] or words == ["i"] or words == ["me"]:
        return "user"
    return " ".join(words)


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
            if same and same_subject(str(record.metadata.get("subject", "")), fact.subject):
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
    ) -> None:
        self.store = store
        self.model = model
        self.conversations = conversations
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
        decisions = []
        for fact in await extract_facts(self.model, user_text, now):
            similar = await asyncio.to_thread(
                self.store.search, fact.text, user_id, self.similar_limit, self.similar_threshold
            )
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
