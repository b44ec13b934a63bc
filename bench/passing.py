"""`sena bench passing`: does Sena remember what the user only mentioned in passing?

People rarely say "remember that...": they mention their cat's name while asking how to dry a
laptop. Each set of `bench/data/facts_in_passing.json` is twelve such messages (some of them
pure questions that state nothing, one correcting an earlier one), sent as turns of one thread
to a real Sena (embedded model, long-term memory on, a fresh data dir and user per set). Then,
on a new thread, questions about those facts. An answer is right when it names an expected
keyword. Each miss is put in one place along the way, which is what tells where to work:
`not learned` (no memory holds the fact), `learned, not retrieved` (the retrieve step did not
bring it), `retrieved, not used` (the model had it in its prompt and did not say it).

The memories each turn wrote are the store's list before and after it (learning awaited), so a
pure question that wrote one shows up. The messages are dated from the set's `said_at` (two
minutes apart), so "this coming Tuesday" resolves as it did for the person; the questions are
asked a day later. The report gives the recall without the questions whose answer is a date
(`dated`) too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import statistics
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.turn import bench_settings, pct
from config.settings import Role, Settings
from graph.session import Sena, open_sena
from providers.registry import ChatModels, ModelRegistry

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data" / "facts_in_passing.json"
ASKED_AFTER_S = 24 * 3600
"""The questions come a day after the set's messages."""
ANSWER_TOKENS = 160
"""Answer cap for the answering roles: enough to name a fact, short enough for 2 CPU cores
(the router role, which also extracts facts as JSON, keeps its configured cap)."""

ANSWER_ROLES: tuple[Role, ...] = ("fast", "critical", "code")

RECALLED, LUCKY = "recalled", "recalled without retrieval"
NOT_USED, NOT_RETRIEVED, NOT_LEARNED = "retrieved, not used", "learned, not retrieved", "not learned"

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b")
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
DAY_OF_MONTH = re.compile(rf"\b(\d{{1,2}}) of ({MONTHS})\b")
REFUSAL = re.compile(
    r"\b(?:don't|do not|doesn't|cannot|can't|am unable to|am not able to) (?:have|access|know|recall|remember)"
    r"\b[^.!?\n]*\b(?:personal|information|details|you|your)\b"
    r"|\bpersonal (?:information|data|details)\b|\bas an ai\b|\byou haven't (?:told|mentioned|shared)\b",
    re.IGNORECASE,
)


CONTRACTED = {"do not": "don't", "does not": "doesn't", "did not": "didn't", "cannot": "can't", "can not": "can't",
              "is not": "isn't", "are not": "aren't", "will not": "won't"}  # fmt: skip


def normalise(text: str) -> str:
    """Lower case, straight apostrophes, contractions ("do not" as "don't"), hyphens as spaces,
    "10th of March" as "10 march"."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    for said, short in CONTRACTED.items():
        text = re.sub(rf"\b{said}\b", short, text)
    text = re.sub(r"[-\u2010-\u2014]", " ", text)
    text = DAY_OF_MONTH.sub(r"\1 \2", ORDINAL.sub(r"\1", text))
    return " ".join(text.split())


def mentions(text: str, keyword: str) -> bool:
    """True when `text` says `keyword`, also as a plural, possessive or longer form ("maths",
    "Noor's", "redundancy" for "redundan"); a number must end where the keyword does ("oct 3" is
    not "oct 30"); a keyword in the plural also matches its singular."""
    text, keyword = normalise(text), normalise(keyword)
    if not keyword:
        return False
    forms = {keyword}
    for suffix in ("'s", "es", "s"):
        if keyword.endswith(suffix) and len(keyword) - len(suffix) >= 3:
            forms.add(keyword[: -len(suffix)])
    for form in forms:
        tail = r"(?!\d)" if form[-1].isdigit() else ""
        if re.search(rf"(?<![a-z0-9]){re.escape(form)}{tail}", text):
            return True
    return False


def mentions_any(text: str, keywords: Iterable[str]) -> bool:
    return any(mentions(text, k) for k in keywords)


def _names(text: str) -> set[str]:
    """Capitalised words not opening a sentence: the places and names a correction repeats."""
    found = set()
    for match in re.finditer(r"\b[A-Z][a-zA-Z'-]+", text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?:":
            found.add(match.group().removesuffix("'s"))
    return found


def replaced_values(said: Sequence[str], superseded: Iterable[int]) -> dict[int, set[str]]:
    """For each message correcting a superseded one, the old value it replaces.

    The correcting message is the first later one repeating a name of the superseded message
    ("I don't live in Utrecht anymore, I moved to Amersfoort": Utrecht is the old value)."""
    replaced: dict[int, set[str]] = {}
    for old in superseded:
        names = _names(said[old])
        for later in range(old + 1, len(said)):
            if shared := names & _names(said[later]):
                replaced[later] = shared
                break
    return replaced


def question_kind(question: Mapping[str, Any], superseded: Iterable[int], replaced: Mapping[int, set[str]]) -> str:
    """`superseded` (about a fact a later message replaced: skipped), `update` (about the newer
    fact), `dated` (the answer is a date), else `plain`."""
    index = question["fact_index"]
    if index in set(superseded):
        return "superseded"
    if index in replaced:
        return "update"
    if any(ISO_DATE.match(k) for k in question["expect_any"]):
        return "dated"
    return "plain"


def category(correct: bool, retrieved: bool, learned: bool) -> str:
    """Where the fact got to on its way from the message to the answer."""
    if correct:
        return RECALLED if retrieved or learned else LUCKY
    if retrieved:
        return NOT_USED
    return NOT_RETRIEVED if learned else NOT_LEARNED


def score(
    question: Mapping[str, Any],
    answer: str,
    snippets: Sequence[Mapping[str, Any]],
    memories: Iterable[str],
    kind: str = "plain",
    old_values: Iterable[str] = (),
) -> dict[str, Any]:
    """One question's row: the answer, whether it is right, and where the fact was lost if not."""
    keywords = question["expect_any"]
    correct = mentions_any(answer, keywords)
    sources = sorted({str(s["source"]) for s in snippets if mentions_any(str(s["text"]), keywords)})
    learned = any(mentions_any(text, keywords) for text in memories)
    row: dict[str, Any] = {
        "question": question["question"],
        "answer": answer[:200],
        "kind": kind,
        "correct": correct,
        "learned": learned,
        "retrieved": bool(sources),
        "retrieved_from": sources,
        "refusal": bool(REFUSAL.search(answer)),
        "category": category(correct, bool(sources), learned),
    }
    if old := list(old_values):
        row["stale"] = not correct and mentions_any(answer, old)
    return row


@dataclass
class SaidTurn:
    """One message of thread A and what it did to memory."""

    index: int
    pure_question: bool
    seconds: float
    learn_seconds: float
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    intent: str = ""
    learning: bool = False

    def row(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "pure_question": self.pure_question,
            "intent": self.intent,
            "learning_started": self.learning,
            "seconds": round(self.seconds, 2),
            "learn_seconds": round(self.learn_seconds, 2),
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
        }


@dataclass
class TurnOutcome:
    answer: str
    snippets: list[dict[str, Any]]
    seconds: float
    learn_seconds: float
    errors: list[Any]
    intent: str = ""
    memory_plan: str = ""
    """Why the turn did or did not search memory (decide_memory's reason)."""
    searched: bool = False
    """decide_memory chose to search long-term memory (a fact "learned, not retrieved" with this
    False was never looked for)."""
    learning: bool = False
    """The turn was handed to the learner (fact extraction, or only the exchange kept)."""

    def trace(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "memory_plan": self.memory_plan,
            "searched": self.searched,
            "snippets": len(self.snippets),
        }


async def take_turn(sena: Sena, thread_id: str, text: str, at: float | None = None) -> TurnOutcome:
    """Run one turn (its message dated `at`) to its end, then wait for what it is learning
    (the answer's time excludes it)."""
    started = time.perf_counter()
    learning = False
    async for event in sena.turn(thread_id, text, at=at):
        learning = learning or event["event"] == "learning_started"
    ended = time.perf_counter()
    if sena.services.learner is not None:
        await sena.services.learner.wait(thread_id)
    learned = time.perf_counter()
    values = (await sena.state(thread_id)).values
    return TurnOutcome(
        answer=str(values.get("answer") or ""),
        snippets=[dict(s) for s in values.get("snippets") or []],
        seconds=ended - started,
        learn_seconds=learned - ended,
        errors=list(values.get("errors") or []),
        intent=str((values.get("intent") or {}).get("intent_type") or ""),
        memory_plan=str((values.get("memory_plan") or {}).get("reason") or ""),
        searched=bool((values.get("memory_plan") or {}).get("use_long_term")),
        learning=learning,
    )


async def memories(sena: Sena, user_id: str) -> dict[str, str]:
    """The user's memories now, by id."""
    store = sena.services.memory
    if store is None:
        return {}
    records = await asyncio.to_thread(store.list, user_id, 10_000)
    return {r.id: r.text for r in records}


def changes(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Texts created, updated (new text) and deleted between two listings."""
    created = [text for key, text in after.items() if key not in before]
    updated = [text for key, text in after.items() if key in before and before[key] != text]
    deleted = [text for key, text in before.items() if key not in after]
    return created, updated, deleted


def figures(rows: Sequence[Mapping[str, Any]], said: Sequence[SaidTurn], seconds: Sequence[float]) -> dict[str, Any]:
    """The headline numbers over some question rows and thread-A turns (a set, or all sets)."""
    scored = [r for r in rows if r["kind"] != "superseded"]
    undated = [r for r in scored if r["kind"] != "dated"]
    right = sum(r["correct"] for r in scored)
    n = len(scored)

    def share(count: int, total: int) -> float | None:
        return round(count / total, 3) if total else None

    categories = {name: 0 for name in (RECALLED, LUCKY, NOT_USED, NOT_RETRIEVED, NOT_LEARNED)}
    for r in scored:
        categories[r["category"]] += 1
    learn = [t.learn_seconds * 1000 for t in said]
    return {
        "asked": n,
        "facts_recalled": right,
        "facts_missing": n - right,
        "recall": share(right, n),
        "recall_undated": share(sum(r["correct"] for r in undated), len(undated)),
        "retrieval_recall": share(sum(r["retrieved"] for r in scored), n),
        "learned_recall": share(sum(r["learned"] for r in scored), n),
        "refusals": sum(r["refusal"] for r in scored),
        "refusals_with_fact_retrieved": sum(r["refusal"] and r["retrieved"] for r in scored),
        "stale_answers": sum(bool(r.get("stale")) for r in scored),
        "categories": categories,
        "memories_created": sum(len(t.created) for t in said),
        "memories_from_pure_questions": sum(len(t.created) for t in said if t.pure_question),
        "pure_questions": sum(t.pure_question for t in said),
        "turn_s_p50": round(statistics.median(seconds), 2) if seconds else None,
        "turn_ms_p50": round(statistics.median(seconds) * 1000, 1) if seconds else None,
        "turn_ms_p95": round(pct([s * 1000 for s in seconds], 0.95), 1) if seconds else None,
        "learning_wait_ms_p50": round(statistics.median(learn), 1) if learn else None,
    }


@dataclass
class SetRun:
    """A set's report, and the raw turns the overall figures are computed from."""

    report: dict[str, Any]
    said: list[SaidTurn]
    seconds: list[float]


async def run_set(sena: Sena, item: Mapping[str, Any]) -> SetRun:
    """Thread A: the twelve messages, learning awaited after each; thread B: the questions."""
    user_id = sena.services.settings.app.user_id
    said_thread, asked_thread = f"passing-{item['id']}-said", f"passing-{item['id']}-asked"
    pure = set(item.get("pure_questions") or [])
    superseded = list(item.get("superseded") or [])
    replaced = replaced_values(item["said"], superseded)
    said: list[SaidTurn] = []
    seconds: list[float] = []
    errors: list[str] = []
    before = await memories(sena, user_id)
    said_at = datetime.fromisoformat(item["said_at"]).timestamp()
    for index, text in enumerate(item["said"]):
        outcome = await take_turn(sena, said_thread, text, said_at + 120 * index)  # a message every two minutes
        after = await memories(sena, user_id)
        turn = SaidTurn(index, index in pure, outcome.seconds, outcome.learn_seconds, *changes(before, after))
        turn.intent, turn.learning = outcome.intent, outcome.learning
        said.append(turn)
        seconds.append(outcome.seconds)
        errors += [f"said {index}: {e.get('node')}: {e.get('error')}" for e in outcome.errors]
        wrote = turn.created + turn.updated
        log.info(
            "%s said %d in %.1f s (+%.1f s learning): %s", item["id"], index, turn.seconds, turn.learn_seconds, wrote
        )
        before = after
    learned = dict(before)
    rows: list[dict[str, Any]] = []
    for question in item["asked"]:
        kind = question_kind(question, superseded, replaced)
        if kind == "superseded":
            rows.append({"question": question["question"], "kind": kind, "category": "skipped"})
            continue
        outcome = await take_turn(sena, asked_thread, question["question"], said_at + ASKED_AFTER_S)
        seconds.append(outcome.seconds)
        errors += [f"asked {question['question']!r}: {e.get('node')}: {e.get('error')}" for e in outcome.errors]
        old = replaced.get(question["fact_index"], set())
        rows.append(score(question, outcome.answer, outcome.snippets, learned.values(), kind, old) | outcome.trace())
        log.info("%s asked %r: %s", item["id"], question["question"], rows[-1]["category"])
    after_asking = await memories(sena, user_id)
    report = figures(rows, said, seconds)
    report.update(extras(item, replaced, learned, after_asking))
    report["errors"] = errors
    report["questions"] = rows
    report["said"] = [t.row() for t in said]
    report["memories"] = sorted(learned.values())
    return SetRun(report, said, seconds)


def extras(
    item: Mapping[str, Any], replaced: Mapping[int, set[str]], learned: Mapping[str, str], later: Mapping[str, str]
) -> dict[str, int]:
    """Memory counts: all of the user's after thread A, those the questions wrote, and those still
    holding a replaced value without its replacement (an update that did not happen)."""
    old_values = {v for values in replaced.values() for v in values}
    new_keywords = [k for q in item["asked"] if q["fact_index"] in replaced for k in q["expect_any"]]
    return {
        "memories_total": len(learned),
        "memories_from_recall_questions": len(changes(learned, later)[0]),
        "stale_memories": sum(
            mentions_any(text, old_values) and not mentions_any(text, new_keywords) for text in learned.values()
        ),
    }


async def warm_up(sena: Sena) -> None:
    """Load the embedded models before the first turn, so no turn's time includes loading them."""
    registry = sena.services.models
    if isinstance(registry, ModelRegistry):
        roles: tuple[Role, ...] = (*ANSWER_ROLES, "router")
        choices = [registry.choose(role) for role in roles]
        for name in {c.model for c in choices if c.provider == "embedded"}:
            await asyncio.to_thread(registry.runtime(name).llama)


def passing_settings(settings: Settings, data_dir: Path, user_id: str, max_tokens: int) -> Settings:
    """A scratch copy: its own data dir and user, answers capped, the router's cap as configured."""
    scratch = bench_settings(settings, data_dir, max_tokens)
    for role, config in scratch.llm.roles.items():
        if role not in ANSWER_ROLES:
            config.max_tokens = settings.llm.roles[role].max_tokens
    scratch.app.user_id = user_id
    scratch.memory.long_term = True
    return scratch


def load(path: Path = DATA) -> list[dict[str, Any]]:
    sets: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["sets"]
    return sets


async def run(
    settings: Settings,
    sets: int | None = None,
    path: Path = DATA,
    models: ChatModels | None = None,
    max_tokens: int = ANSWER_TOKENS,
) -> dict[str, Any]:
    """Every set (or the first `sets`) on its own fresh Sena; figures per set and overall."""
    chosen = load(path)[: sets if sets else None]
    report: dict[str, Any] = {"sets_run": len(chosen), "said_at_applied": True, "answer_max_tokens": max_tokens}
    runs: dict[str, SetRun] = {}
    with tempfile.TemporaryDirectory(prefix="sena-bench-passing-") as tmp:
        for item in chosen:
            scratch = passing_settings(settings, Path(tmp) / item["id"], f"bench-passing-{item['id']}", max_tokens)
            started = time.perf_counter()
            async with open_sena(scratch, models=models) as sena:
                if sena.services.memory is None:
                    raise RuntimeError(f"long-term memory is off: {sena.services.memory_problem}")
                report.setdefault("model", sena.services.models.choose("fast").label)
                await warm_up(sena)
                runs[item["id"]] = await run_set(sena, item)
            runs[item["id"]].report["set_s"] = round(time.perf_counter() - started, 1)
    overall = figures(
        [r for done in runs.values() for r in done.report["questions"]],
        [t for done in runs.values() for t in done.said],
        [s for done in runs.values() for s in done.seconds],
    )
    for key in ("memories_total", "memories_from_recall_questions", "stale_memories"):
        overall[key] = sum(done.report[key] for done in runs.values())
    report["overall"] = overall
    report["sets"] = {name: done.report for name, done in runs.items()}
    return report
