"""`sena bench recall`: retrieval on real-looking long conversations, beside BM25 in the same run.

The set (`bench/data/conversations_heldout.json`) was written by someone who had not seen
Sena's memory code: 6 people, 58 dated sessions, 626 turns, and 193 questions asked in other
words than the evidence (single fact, multi-hop, temporal, updated fact, preference, and
never said). Each person's messages are stored as memories dated by their session (as said, no
model in the loop); every question is then searched as `retrieve` would, at the time it was
asked. Reported by question type: evidence recall@5 and @10 for Sena's hybrid search, for the
dense vectors alone, and for BM25 over the same messages; how often a question about something
never said still retrieves a memory; and search latency.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.memory import tokens
from bench.turn import pct
from config.settings import Settings
from memory.embedder import MiniLMEmbedder
from memory.store import MemoryStore
from providers.registry import ModelRegistry

HELD_OUT = Path(__file__).resolve().parent / "data" / "conversations_heldout.json"
Ranker = Callable[[dict[str, Any], dict[str, Any]], list[str]]  # (conversation, question) -> turn ids, best first


def user_turns(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**turn, "date": session["date"]}
        for session in conversation["sessions"]
        for turn in session["turns"]
        if turn["speaker"] == "user"
    ]


def ingest(store: MemoryStore, conversations: list[dict[str, Any]]) -> float:
    """Store every user message as a memory dated by its session; return ms per memory."""
    started, count = time.perf_counter(), 0
    for conversation in conversations:
        turns = user_turns(conversation)
        metadatas = [{"turn_id": t["id"], "created_at": datetime.fromisoformat(t["date"]).isoformat()} for t in turns]
        store.bulk_add([t["text"] for t in turns], conversation["id"], metadatas)
        count += len(turns)
    return (time.perf_counter() - started) * 1000 / max(count, 1)


def sena_ranker(store: MemoryStore, threshold: float) -> Ranker:
    def rank(conversation: dict[str, Any], question: dict[str, Any]) -> list[str]:
        asked = datetime.fromisoformat(question["asked_at"])
        hits = store.search(question["question"], conversation["id"], limit=10, threshold=threshold, now=asked)
        return [str(h.metadata.get("turn_id")) for h in hits]

    return rank


def dense_ranker(store: MemoryStore, threshold: float) -> Ranker:
    def rank(conversation: dict[str, Any], question: dict[str, Any]) -> list[str]:
        vector = store.embedder.embed_query(question["question"])
        hits = store.nearest(vector, conversation["id"], limit=10)
        return [str(h.payload.get("turn_id")) for h in hits if float(h.score) >= threshold]

    return rank


def bm25_ranker(conversations: list[dict[str, Any]]) -> Ranker:
    from rank_bm25 import BM25Okapi

    indexes = {}
    for conversation in conversations:
        turns = user_turns(conversation)
        indexes[conversation["id"]] = (BM25Okapi([tokens(t["text"]) for t in turns]), [t["id"] for t in turns])

    def rank(conversation: dict[str, Any], question: dict[str, Any]) -> list[str]:
        index, ids = indexes[conversation["id"]]
        scores = index.get_scores(tokens(question["question"]))
        order = sorted(range(len(ids)), key=lambda i: -scores[i])[:10]
        return [ids[i] for i in order if scores[i] > 0]

    return rank


def score(conversations: list[dict[str, Any]], rank: Ranker) -> dict[str, Any]:
    """Recall@5/@10 of the evidence by question type, and the false-hit rate on never-said questions."""
    by_type: dict[str, dict[str, list[float]]] = {}
    absent, times = [], []
    for conversation in conversations:
        for question in conversation["questions"]:
            started = time.perf_counter()
            ids = rank(conversation, question)
            times.append((time.perf_counter() - started) * 1000)
            if question["type"] == "absent":
                absent.append(bool(ids))
                continue
            evidence = question["evidence"]
            row = by_type.setdefault(question["type"], {"5": [], "10": []})
            row["5"].append(sum(e in ids[:5] for e in evidence) / len(evidence))
            row["10"].append(sum(e in ids[:10] for e in evidence) / len(evidence))
    every5 = [v for row in by_type.values() for v in row["5"]]
    every10 = [v for row in by_type.values() for v in row["10"]]
    return {
        "recall_at_5": round(statistics.mean(every5), 3),
        "recall_at_10": round(statistics.mean(every10), 3),
        "by_type": {
            kind: {"recall_at_5": round(statistics.mean(r["5"]), 3), "recall_at_10": round(statistics.mean(r["10"]), 3)}
            for kind, r in sorted(by_type.items())
        },
        "absent_false_hit_rate": round(statistics.mean(absent), 3) if absent else None,
        "search_ms_p50": round(statistics.median(times), 2),
        "search_ms_p95": round(pct(times, 0.95), 2),
    }


async def run(settings: Settings, path: Path = HELD_OUT) -> dict[str, Any]:
    conversations = json.loads(path.read_text(encoding="utf-8"))["conversations"]
    threshold = settings.memory.search_threshold
    with tempfile.TemporaryDirectory(prefix="sena-bench-recall-") as tmp:
        registry = ModelRegistry(settings.llm, settings.models_dir)  # mem0 needs an LLM; none is called here
        store = MemoryStore.open(settings.memory, Path(tmp), registry.get(registry.choose("router")), MiniLMEmbedder())
        try:
            insert_ms = ingest(store, conversations)
            report: dict[str, Any] = {
                "questions": sum(len(c["questions"]) for c in conversations),
                "memories": sum(len(user_turns(c)) for c in conversations),
                "sena": score(conversations, sena_ranker(store, threshold)),
                "dense_only": score(conversations, dense_ranker(store, threshold)),
                "bm25": score(conversations, bm25_ranker(conversations)),
                "insert_ms_per_memory": round(insert_ms, 2),
            }
        finally:
            store.close()
            registry.close()
    for name in ("sena", "dense_only"):
        report[f"{name}_recall_at_5_vs_bm25"] = round(
            report[name]["recall_at_5"] / max(report["bm25"]["recall_at_5"], 1e-9), 2
        )
    return report
