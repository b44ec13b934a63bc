"""`sena bench turn`: where a turn's time goes.

Two measurements over the real SQLite checkpointer:
- with an instant scripted model, per-node timings and the graph's own overhead;
- with the embedded model, per-node timings, model time, and time-to-first-token through
  Sena versus the same model called directly with the same kind of prompt.
Times come from the node events the graph emits, so the benchmark sees what a user sees.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from config.settings import Role, Settings
from graph.session import Sena, open_sena
from providers.llamacpp import to_llama_messages
from providers.registry import ModelChoice, ModelRegistry

QUESTIONS = (
    "What is the capital of France?",
    "Why is the sky blue?",
    "How many legs does a spider have?",
    "What is the boiling point of water?",
    "Who wrote Pride and Prejudice?",
    "What is photosynthesis?",
    "How far is the Moon from Earth?",
    "What does a CPU do?",
)


class InstantModels:
    """A registry whose every role answers at once with a fixed reply (no model time)."""

    REPLY = "This is an instant scripted answer used to measure the graph itself."

    def choose(self, role: Role, override: str | None = None) -> ModelChoice:
        return ModelChoice(role, "embedded", "instant")

    def get(self, choice: ModelChoice) -> BaseChatModel:
        return GenericFakeChatModel(messages=iter(AIMessage(self.REPLY) for _ in range(10**9)))

    def fallback_for(self, failed: ModelChoice) -> ModelChoice | None:
        return None


@dataclass
class TurnSample:
    wall_ms: float
    model_ms: float
    ttft_ms: float | None
    nodes: dict[str, float] = field(default_factory=dict)


def pct(values: Iterable[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def timed_turn(sena: Sena, thread_id: str, text: str) -> TurnSample:
    started = time.time()
    model_started = first_token = model_ended = None
    nodes: dict[str, float] = {}
    async for event in sena.turn(thread_id, text):
        kind = event["event"]
        if kind == "model_call":
            model_started = event["ts"]
        elif kind == "token" and first_token is None:
            first_token = event["ts"]
        elif kind == "node_end":
            nodes[event["node"]] = event["duration_ms"]
            if event["node"] == "generate":
                model_ended = event["ts"]
    wall = (time.time() - started) * 1000
    model = (model_ended - model_started) * 1000 if model_started and model_ended else 0.0
    ttft = (first_token - started) * 1000 if first_token else None
    return TurnSample(wall, model, ttft, nodes)


def summarize(samples: list[TurnSample]) -> dict[str, Any]:
    per_node: dict[str, list[float]] = defaultdict(list)
    for sample in samples:
        for node, ms in sample.nodes.items():
            per_node[node].append(ms)
    overhead = [s.wall_ms - s.model_ms for s in samples]
    ttfts = [s.ttft_ms for s in samples if s.ttft_ms is not None]
    return {
        "turns": len(samples),
        "turn_ms_p50": statistics.median(s.wall_ms for s in samples),
        "turn_ms_p95": pct((s.wall_ms for s in samples), 0.95),
        "model_ms_p50": statistics.median(s.model_ms for s in samples),
        "overhead_ms_p50": statistics.median(overhead),
        "overhead_ms_p95": pct(overhead, 0.95),
        "ttft_ms_p50": statistics.median(ttfts) if ttfts else None,
        "nodes_ms_p50": {node: statistics.median(v) for node, v in per_node.items()},
    }


async def bench_scripted(settings: Settings, turns: int) -> dict[str, Any]:
    async with open_sena(settings, models=InstantModels()) as sena:
        await timed_turn(sena, "bench-warmup", "hello")
        samples = [await timed_turn(sena, "bench-scripted", QUESTIONS[i % len(QUESTIONS)]) for i in range(turns)]
    return summarize(samples)


def direct_ttft_ms(registry: ModelRegistry, settings: Settings, text: str) -> float:
    """Time to the first token calling llama.cpp directly with the prompt Sena would build."""
    choice = registry.choose("fast")
    llama = registry.runtime(choice.model).llama()
    prompt = to_llama_messages([SystemMessage(settings.app.system_prompt), HumanMessage(text)])
    role = settings.llm.roles["fast"]
    started = time.perf_counter()
    first = None
    stream: Any = llama.create_chat_completion(
        messages=prompt,  # type: ignore[arg-type]
        stream=True,
        max_tokens=role.max_tokens,
        temperature=role.temperature,
    )
    for part in stream:
        if first is None and part["choices"][0].get("delta", {}).get("content"):
            first = time.perf_counter()
    return ((first or time.perf_counter()) - started) * 1000


async def bench_embedded(settings: Settings, turns: int) -> dict[str, Any]:
    async with open_sena(settings) as sena:
        registry = sena.services.models
        assert isinstance(registry, ModelRegistry)
        runtime = registry.runtime(registry.choose("fast").model)
        await timed_turn(sena, "bench-warmup", "Hi")  # loads the model; not measured
        samples, direct = [], []
        for i in range(turns):
            # Fresh thread per turn so Sena's prompt is system + question, like the direct call;
            # the two use different questions so neither reuses the other's cached prompt.
            samples.append(await timed_turn(sena, f"bench-embedded-{i}", QUESTIONS[(2 * i) % len(QUESTIONS)]))
            direct.append(direct_ttft_ms(registry, settings, QUESTIONS[(2 * i + 1) % len(QUESTIONS)]))
    result = summarize(samples)
    result["model"] = runtime.name
    result["model_load_s"] = runtime.load_seconds
    result["direct_ttft_ms_p50"] = statistics.median(direct)
    return result


def bench_settings(settings: Settings, data_dir: Path, max_tokens: int) -> Settings:
    """Copy settings into a scratch data dir so benchmarks never touch the user's threads."""
    updated = settings.model_copy(deep=True)
    updated.app.data_dir = data_dir
    updated.database.path = None
    updated.llm.embedded.models_dir = settings.models_dir  # reuse the assembled model file
    for role in updated.llm.roles.values():
        role.max_tokens = max_tokens
    return updated


async def run(settings: Settings, *, turns: int, embedded_turns: int, max_tokens: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sena-bench-") as tmp:
        scratch = bench_settings(settings, Path(tmp), max_tokens)
        report: dict[str, Any] = {"scripted": await bench_scripted(scratch, turns)}
        if embedded_turns:
            report["embedded"] = await bench_embedded(scratch, embedded_turns)
    return report
