"""`sena bench routing`: how often classify_intent picks the right intent on messages nobody tuned it on.

The held-out set (`bench/data/routing_heldout.jsonl`) was written by someone who had not seen the
rules or examples: 254 messages, slang, typos, mixed statement-plus-question messages, a few in
other languages. Each message goes through the same decision the graph makes (`decide`: rules,
likeness to config/intent_examples.yaml, then the router model when neither is sure). The
report: accuracy overall and per intent, the share decided without a model call, per-message
latency (p50, p95), and the confusions.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.turn import pct
from config.settings import Settings
from memory.by_example import ExampleIndex
from nodes.classify_intent import decide, structured_router

HELD_OUT = Path(__file__).resolve().parent / "data" / "routing_heldout.jsonl"


def load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


async def run(settings: Settings, path: Path = HELD_OUT, use_model: bool = True) -> dict[str, Any]:
    from providers.registry import ModelRegistry

    routing = settings.intent_routing
    registry = ModelRegistry(settings.llm, settings.models_dir)
    model = registry.get(registry.choose("router")) if use_model else None
    examples = ExampleIndex(settings.intent_examples) if routing.use_examples and settings.intent_examples else None
    if examples is not None:
        examples.scores("warm up")  # embeds the examples once, as the first turn would
    items = load(path)
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    confusions: Counter[str] = Counter()
    latencies, fast = [], []
    for item in items:
        started = time.perf_counter()
        router = (lambda intents: structured_router(model, intents)) if model is not None else None
        record = await decide(item["text"], routing, router, examples)
        elapsed = (time.perf_counter() - started) * 1000
        latencies.append(elapsed)
        if record["source"] != "router":
            fast.append(elapsed)
        sources[record["source"]] += 1
        total[item["intent"]] += 1
        if record["intent_type"] == item["intent"]:
            right[item["intent"]] += 1
        else:
            confusions[f"{item['intent']} -> {record['intent_type']}"] += 1
    by_intent: dict[str, Any] = defaultdict(dict)
    for intent in sorted(total):
        by_intent[intent] = {"accuracy": round(right[intent] / total[intent], 3), "n": total[intent]}
    return {
        "messages": len(items),
        "accuracy": round(sum(right.values()) / len(items), 3),
        "by_intent": dict(by_intent),
        "without_model_share": round(1 - sources["router"] / len(items), 3),
        "sources": dict(sources),
        "latency_ms_p50": round(statistics.median(latencies), 2),
        "latency_ms_p95": round(pct(latencies, 0.95), 2),
        "without_model_latency_ms_p95": round(pct(fast, 0.95), 3) if fast else None,
        "confusions": [f"{pair}: {n}" for pair, n in confusions.most_common(15)],
    }
