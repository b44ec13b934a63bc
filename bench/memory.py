"""`sena bench memory`: retrieval quality and speed of long-term memory on the shared benchmark.

Each user's turns are stored as memories (as said, no model in the loop), then every probe's
question is searched: recall@1/@5 of the evidence turns, how often an updated fact's new
statement outranks the old one, and how often an unanswerable probe still finds something above
the threshold -- side by side with a BM25 baseline over the same turns. Then search latency at
1k and 10k memories (padded with distractors), insert throughput, and, with the embedded model,
the time `extract_learnings` spends per turn.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.turn import pct
from config.settings import Settings
from memory.embedder import MiniLMEmbedder
from memory.store import MemoryStore
from providers.registry import ModelRegistry

DEFAULT_BENCH = Path("../shared/bench/memory_bench.json")
Ranker = Callable[[str, str], list[tuple[str, float]]]  # (user, question) -> [(turn_id, score)] best first


def tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def user_turns(user: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's turns in order, each with its session's date."""
    return [{**t, "date": s.get("date")} for s in user["sessions"] for t in s["turns"] if t["role"] == "user"]


def old_turn(user: dict[str, Any], probe: dict[str, Any]) -> str | None:
    """The earlier user turn that stated an updated fact's stale value."""
    old = probe.get("old_answer", "").lower()
    new_ids = set(probe["evidence"])
    for turn in user_turns(user):
        if old and old in turn["text"].lower() and turn["turn_id"] not in new_ids:
            return str(turn["turn_id"])
    return None


def score_probes(bench: dict[str, Any], rank: Ranker, threshold: float | None) -> dict[str, Any]:
    recall1, recall5, updated_wins, absent_hits = [], [], [], []
    by_kind: dict[str, list[float]] = {}
    for user in bench["users"]:
        for probe in user["probes"]:
            ranked = rank(user["user_id"], probe["question"])
            ids = [turn_id for turn_id, _ in ranked]
            if probe["kind"] == "absent":
                absent_hits.append(any(threshold is None or score >= threshold for _, score in ranked))
                continue
            evidence = probe["evidence"]
            r1 = sum(e in ids[:1] for e in evidence) / len(evidence)
            r5 = sum(e in ids[:5] for e in evidence) / len(evidence)
            recall1.append(r1)
            recall5.append(r5)
            by_kind.setdefault(probe["kind"], []).append(r5)
            if probe["kind"] == "updated_fact" and (stale := old_turn(user, probe)):
                new_rank = min((ids.index(e) for e in evidence if e in ids), default=10**6)
                old_rank = ids.index(stale) if stale in ids else 10**6
                updated_wins.append(new_rank < old_rank)
    return {
        "recall_at_1": round(statistics.mean(recall1), 3),
        "recall_at_5": round(statistics.mean(recall5), 3),
        "recall_at_5_by_kind": {k: round(statistics.mean(v), 3) for k, v in sorted(by_kind.items())},
        "updated_new_above_old": round(statistics.mean(updated_wins), 3) if updated_wins else None,
        "absent_false_hit_rate": round(statistics.mean(absent_hits), 3) if absent_hits else None,
    }


def threshold_sweep(bench: dict[str, Any], rank: Ranker, thresholds: tuple[float, ...]) -> list[dict[str, Any]]:
    """Recall@5 and absent false hits if results under each similarity threshold were dropped."""
    cache: dict[tuple[str, str], list[tuple[str, float]]] = {}

    def cached(user_id: str, question: str) -> list[tuple[str, float]]:
        if (user_id, question) not in cache:
            cache[user_id, question] = rank(user_id, question)
        return cache[user_id, question]

    rows = []
    for t in thresholds:

        def above(user_id: str, question: str, t: float = t) -> list[tuple[str, float]]:
            return [(turn_id, score) for turn_id, score in cached(user_id, question) if score >= t]

        scores = score_probes(bench, above, t)
        rows.append(
            {
                "threshold": t,
                "recall_at_5": scores["recall_at_5"],
                "absent_false_hit_rate": scores["absent_false_hit_rate"],
            }
        )
    return rows


def bm25_ranker(bench: dict[str, Any]) -> Ranker:
    from rank_bm25 import BM25Okapi

    indexes = {}
    for user in bench["users"]:
        turns = user_turns(user)
        indexes[user["user_id"]] = (BM25Okapi([tokens(t["text"]) for t in turns]), [t["turn_id"] for t in turns])

    def rank(user_id: str, question: str) -> list[tuple[str, float]]:
        index, ids = indexes[user_id]
        scores = index.get_scores(tokens(question))
        order = sorted(range(len(ids)), key=lambda i: -scores[i])[:20]
        return [(ids[i], float(scores[i])) for i in order if scores[i] > 0]

    return rank


def memory_ranker(store: MemoryStore, bench: dict[str, Any]) -> tuple[Ranker, Ranker, float]:
    """Ingest every user's turns; return the product's ranker, an unthresholded one, and insert time."""
    started = time.perf_counter()
    count = 0
    for user in bench["users"]:
        turns = user_turns(user)
        metadatas = [{"turn_id": t["turn_id"], **({"created_at": t["date"]} if t["date"] else {})} for t in turns]
        store.bulk_add([t["text"] for t in turns], user["user_id"], metadatas)
        count += len(turns)
    insert_ms = (time.perf_counter() - started) * 1000 / count

    def rank(user_id: str, question: str, threshold: float | None = None) -> list[tuple[str, float]]:
        # What retrieve would hand the model: the configured number of memories, in product order.
        hits = store.search(question, user_id, threshold=threshold)
        return [(str(h.metadata.get("turn_id")), h.score) for h in hits]

    def unthresholded(user_id: str, question: str) -> list[tuple[str, float]]:
        return rank(user_id, question, 0.0)

    return rank, unthresholded, insert_ms


def distractors(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    subjects = ["The meeting", "My bike", "The weather", "Dinner", "The train", "Our garden", "The report", "A friend"]
    verbs = ["was moved to", "looked like", "reminded me of", "ended up near", "smelled of", "needed", "went past"]
    objects = ["the old harbour", "a rainy Tuesday", "fresh basil", "the blue folder", "a quiet cafe", "the north gate"]
    return [f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} ({i})." for i in range(n)]


def latency(store: MemoryStore, user_id: str, queries: list[str]) -> dict[str, float]:
    full, vector = [], []
    for query in queries:
        started = time.perf_counter()
        store.search(query, user_id)
        full.append((time.perf_counter() - started) * 1000)
        embedding = store.embedder.embed_query(query)
        started = time.perf_counter()
        store.nearest(embedding, user_id, limit=5)
        vector.append((time.perf_counter() - started) * 1000)
    return {
        "search_ms_p50": round(statistics.median(full), 2),
        "search_ms_p95": round(pct(full, 0.95), 2),
        "vector_query_ms_p50": round(statistics.median(vector), 3),
        "vector_query_ms_p95": round(pct(vector, 0.95), 3),
    }


def scale(store: MemoryStore, queries: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    padding = distractors(10_000)
    started = time.perf_counter()
    store.bulk_add(padding[:1000], "scale")
    results["1k"] = latency(store, "scale", queries)
    store.bulk_add(padding[1000:], "scale")
    results["insert_10k_s"] = round(time.perf_counter() - started, 2)
    results["10k"] = latency(store, "scale", queries)
    return results


async def learning(settings: Settings, bench: dict[str, Any], turns: int, update_probes: int) -> dict[str, Any]:
    """Run the real learner with the embedded router model: its time per turn, and updated facts.

    For each updated-fact probe, a fresh user tells Sena the old statement and then the new
    one; the learner extracts and decides as in a chat. Then the probe's question is searched
    as `retrieve` would: does a memory with the new value rank above any with the old value?
    """
    from memory.learnings import Learner

    registry = ModelRegistry(settings.llm, settings.models_dir)
    model = registry.get(registry.choose("router"))
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = MemoryStore.open(settings.memory, Path(tmp), model)
        learner = Learner(store, model)
        times, facts = [], 0
        for text in [t["text"] for t in user_turns(bench["users"][0])][:turns]:
            started = time.perf_counter()
            facts += len(await learner.learn("bench", text))
            times.append((time.perf_counter() - started) * 1000)
        if times:
            report["extract_learnings"] = {
                "turns": len(times),
                "facts": facts,
                "ms_p50": round(statistics.median(times)),
                "ms_max": round(max(times)),
            }
        probes = [(u, p) for u in bench["users"] for p in u["probes"] if p["kind"] == "updated_fact"]
        outcomes = []
        for user, probe in probes[:update_probes]:
            outcomes.append(await learned_update(store, learner, user, probe))
        if outcomes:
            report["updated_via_learner"] = {
                "probes": len(outcomes),
                "new_above_old": round(statistics.mean(o == "new" for o in outcomes), 3),
                "outcomes": {k: outcomes.count(k) for k in sorted(set(outcomes))},
            }
        store.close()
    registry.close()
    return report


async def learned_update(store: MemoryStore, learner: Any, user: dict[str, Any], probe: dict[str, Any]) -> str:
    """Teach the old then the new statement; say which value ranks first: new, old, or none."""
    turns = {t["turn_id"]: t["text"] for t in user_turns(user)}
    stale = old_turn(user, probe)
    if stale is None:
        return "no old turn"
    for text in (turns[stale], *(turns[e] for e in probe["evidence"])):
        await learner.learn(probe["probe_id"], text)
    new, old = probe["answer"].lower(), probe["old_answer"].lower()
    for hit in store.search(probe["question"], probe["probe_id"], threshold=0.0):
        text = hit.text.lower()
        if new in text and old not in text:
            return "new"
        if old in text:
            return "old"
    return "none"


async def run(settings: Settings, bench_path: Path, *, extraction_turns: int, update_probes: int) -> dict[str, Any]:
    bench = json.loads(bench_path.read_text())
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sena-bench-memory-") as tmp:
        registry = ModelRegistry(settings.llm, settings.models_dir)  # mem0 needs an LLM; none is called here
        store = MemoryStore.open(
            settings.memory,
            Path(tmp),
            registry.get(registry.choose("router")),
            MiniLMEmbedder(),
        )
        rank, unthresholded, insert_ms = memory_ranker(store, bench)
        report["sena"] = score_probes(bench, rank, settings.memory.search_threshold)
        report["threshold_sweep"] = threshold_sweep(bench, unthresholded, (0.0, 0.1, 0.2, 0.3, 0.4))
        report["bm25"] = score_probes(bench, bm25_ranker(bench), None)
        report["recall_at_5_vs_bm25"] = round(
            report["sena"]["recall_at_5"] / max(report["bm25"]["recall_at_5"], 1e-9), 2
        )
        report["insert_ms_per_memory"] = round(insert_ms, 2)
        questions = [p["question"] for u in bench["users"] for p in u["probes"]][:100]
        report["latency"] = scale(store, questions)
        store.close()
    if extraction_turns or update_probes:
        report.update(await learning(settings, bench, extraction_turns, update_probes))
    return report
