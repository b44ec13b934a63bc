"""`sena bench generate`: does the code model write working extensions from one-line requests?

`bench/data/generate_requests.json` holds 40 requests of the kind users type (conversions, date
arithmetic, picking things out of text, text transforms, calculators, statistics, formatting),
written by a helper that saw neither Sena's code nor its worked examples, each with one example
input and the strings a right answer contains. Every request goes through the real generator
(embedded code model, validator, sandbox, scratch folders), up to 3 attempts.

Figures: success on the first attempt and within the attempts (the generator's own verdict),
`correct`: the registered extension's answer to the request's example contains an expected
string (a stricter, independent check: the example is not shown to the generator), seconds
per request, and the reason of each failure by class.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.turn import bench_settings, pct
from config.settings import Settings
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from providers.registry import ModelRegistry

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data" / "generate_requests.json"


def reason(errors: list[str]) -> str:
    """The class of a failed generation, from its last error."""
    last = errors[-1].lower() if errors else ""
    for needle, name in (
        ("import of", "forbidden import"),
        ("syntax error", "syntax error"),
        ("no function", "no function"),
        ("metadata", "metadata"),
        ("parameter", "parameters"),
        ("execute", "signature"),
        ("user expects", "wrong on the user's example"),
        ("unchanged", "returned its input"),
        ("empty string", "empty result"),
        ("failed:", "raised in a sample"),
        ("it failed when run", "raised in a sample"),
    ):
        if needle in last:
            return name
    return "other"


def arguments_for(spec_parameters: list[tuple[str, str]], example: dict[str, Any]) -> dict[str, Any]:
    """The example's arguments under the extension's parameter names: by name, else in order
    among the example's values of a fitting type."""
    given = dict(example.get("args") or {})
    out: dict[str, Any] = {}
    unused = [k for k in given if k not in {name for name, _ in spec_parameters}]
    for name, kind in spec_parameters:
        if name in given:
            out[name] = given[name]
            continue
        numeric = kind in ("number", "integer")
        for key in unused:
            value = given[key]
            if numeric == isinstance(value, (int, float)) and not isinstance(value, bool):
                out[name] = value
                unused.remove(key)
                break
    return out


async def check_example(host: SandboxHost, name: str, item: dict[str, Any]) -> tuple[bool, str]:
    spec = host.spec(name)
    if spec is None:
        return False, "not registered"
    example = item["example"]
    kwargs = arguments_for([(p.name, p.type) for p in spec.parameters], example)
    message = str(example.get("describe") or "")
    try:
        output = await host.run(name, message, {}, **kwargs)
    except Exception as exc:  # the extension's failure is the finding
        return False, f"{type(exc).__name__}: {exc}"
    return any(e.lower() in output.lower() for e in item["expect_any"]), output[:200]


async def run(settings: Settings, path: Path = DATA, limit: int | None = None, attempts: int = 3) -> dict[str, Any]:
    from extensions.generate import generate_extension
    from memory.embedder import MiniLMEmbedder

    items: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["requests"][: limit or None]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sena-bench-generate-") as tmp:
        scratch = bench_settings(settings, Path(tmp) / "data", settings.llm.roles["code"].max_tokens)
        scratch.extensions.user_dir = Path(tmp) / "user"
        scratch.extensions.generated_dir = Path(tmp) / "generated"
        scratch.extensions.core = []
        models = ModelRegistry(scratch.llm, scratch.models_dir)
        host = SandboxHost(scratch, ExtensionRegistry.from_path(scratch.database_path))
        host.load_all()
        model = models.get(models.choose("code"))
        embed = MiniLMEmbedder().embed_array
        await asyncio.to_thread(lambda: models.runtime(models.choose("code").model).llama())
        try:
            for item in items:
                started = time.perf_counter()
                result = await generate_extension(item["request"], model, host, attempts, embed)
                seconds = time.perf_counter() - started
                correct, output = (False, "")
                if result.status == "success" and result.name:
                    correct, output = await check_example(host, result.name, item)
                rows.append(
                    {
                        "id": item["id"],
                        "category": item.get("category", "other"),
                        "status": result.status,
                        "attempts": result.attempts,
                        "correct": correct,
                        "seconds": round(seconds, 1),
                        "reason": None if result.status == "success" else reason(result.errors),
                        "errors": [e[:300] for e in result.errors],
                        "repairs": list(getattr(result, "repairs", [])),
                        "example_output": output,
                    }
                )
                log.info("%s %s in %d attempt(s), %.0f s", item["id"], result.status, result.attempts, seconds)
        finally:
            host.close()
            models.close()
    return figures(rows)


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def share(count: int) -> float:
        return round(count / len(rows), 3) if rows else 0.0

    seconds = [r["seconds"] for r in rows]
    succeeded = [r for r in rows if r["status"] == "success"]
    by_category: dict[str, dict[str, Any]] = {}
    for category in sorted({r["category"] for r in rows}):
        mine = [r for r in rows if r["category"] == category]
        by_category[category] = {
            "requests": len(mine),
            "success": sum(r["status"] == "success" for r in mine),
            "correct": sum(r["correct"] for r in mine),
        }
    return {
        "requests": len(rows),
        "success_first_attempt": share(sum(r["status"] == "success" and r["attempts"] == 1 for r in rows)),
        "success": share(len(succeeded)),
        "correct_on_example": share(sum(r["correct"] for r in rows)),
        "seconds_p50": round(statistics.median(seconds), 1) if seconds else 0.0,
        "seconds_p95": round(pct(seconds, 0.95), 1) if seconds else 0.0,
        "seconds_max": max(seconds, default=0.0),
        "over_60_s": sum(s > 60 for s in seconds),
        "repairs": sum(len(r["repairs"]) for r in rows),
        "failure_reasons": dict(Counter(r["reason"] for r in rows if r["reason"])),
        "by_category": by_category,
        "rows": rows,
    }
