"""`sena bench ...`: run a benchmark suite and print its figures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, load_or_exit, setup_logging

app = typer.Typer(help="Benchmarks.", no_args_is_help=True)


def _fmt(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


@app.command("memory")
def memory(
    bench_file: Annotated[Path, typer.Option("--bench", help="Benchmark JSON.")] = Path(
        "../shared/bench/memory_bench.json"
    ),
    extraction_turns: Annotated[int, typer.Option(help="Turns to time extract_learnings on (0 skips).")] = 5,
    update_probes: Annotated[
        int, typer.Option(help="Updated-fact probes to learn through the embedded model (0 skips).")
    ] = 24,
) -> None:
    """Recall@k vs BM25, updated facts, absent probes, search latency at 1k/10k, learning with the model."""
    from bench.memory import run

    settings = load_or_exit()
    setup_logging(settings)
    if not bench_file.exists():
        console().print(f"[red]No benchmark file at {bench_file}; pass --bench PATH.[/red]")
        raise typer.Exit(2)
    report = asyncio.run(run(settings, bench_file, extraction_turns=extraction_turns, update_probes=update_probes))
    print(json.dumps(report, indent=2))  # noqa: T201 - the report is the output


@app.command("turn")
def turn(
    turns: Annotated[int, typer.Option(help="Turns with the instant scripted model.")] = 50,
    embedded_turns: Annotated[int, typer.Option(help="Turns with the embedded model (0 skips it).")] = 3,
    max_tokens: Annotated[int, typer.Option(help="Answer length cap for the embedded model.")] = 48,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Per-node timings, graph overhead and time-to-first-token (Sena vs direct llama.cpp)."""
    from bench.turn import run

    settings = load_or_exit()
    setup_logging(settings)
    report = asyncio.run(run(settings, turns=turns, embedded_turns=embedded_turns, max_tokens=max_tokens))
    if as_json:
        print(json.dumps(report, indent=2))  # noqa: T201 - machine-readable output
        return
    out = console()
    for name, result in report.items():
        table = Table("metric", "value", title=f"turn benchmark: {name} model")
        for key, value in result.items():
            if key == "nodes_ms_p50":
                for node, ms in value.items():
                    table.add_row(f"node {node} ms p50", _fmt(ms))
            else:
                table.add_row(key, _fmt(value))
        out.print(table)


@app.command("extensions")
def extensions(
    calls: Annotated[int, typer.Option(help="Calls timed on the warm worker.")] = 300,
    reloads: Annotated[int, typer.Option(help="Hot reloads timed.")] = 10,
) -> None:
    """Sandboxed call overhead (warm worker), load time of all extensions, hot-reload latency."""
    from bench.extensions import run

    settings = load_or_exit()
    setup_logging(settings)
    print(json.dumps(run(settings, calls=calls, reloads=reloads), indent=2))  # noqa: T201 - the report is the output


@app.command("load")
def load(
    clients: Annotated[int, typer.Option(help="Concurrent clients, each on its own thread.")] = 50,
    turns: Annotated[int, typer.Option(help="Turns per client.")] = 2,
) -> None:
    """Concurrent chats through the API on loopback with an instant scripted model (server overhead only)."""
    import tempfile

    from bench.load import run as run_load
    from bench.turn import InstantModels

    settings = load_or_exit()
    setup_logging(settings)
    with tempfile.TemporaryDirectory(prefix="sena-bench-load-") as tmp:
        bench_settings = settings.model_copy(deep=True)
        bench_settings.app.data_dir = Path(tmp)
        bench_settings.api.rate_limit_per_minute = 0
        bench_settings.intent_routing.use_router_model = False
        bench_settings.memory.long_term = False  # the instant model cannot extract facts; measure the server
        report = run_load(bench_settings, InstantModels(), clients=clients, turns=turns)
    print(json.dumps(report, indent=2))  # noqa: T201 - the report is the output
