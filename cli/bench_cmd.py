"""`sena bench ...`: run a benchmark suite, print its figures, keep them and compare with the last run.

Figures go to stdout (JSON for the suites whose report is nested); the comparison with the
previous run of the same suite goes to stderr, so stdout stays machine-readable.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.common import console, load_or_exit, setup_logging
from config.settings import Settings

app = typer.Typer(help="Benchmarks (each run is kept and compared with the previous one).", no_args_is_help=True)

Save = Annotated[bool, typer.Option("--save/--no-save", help="Keep the results and compare with the last run.")]


def keep_and_compare(settings: Settings, suite: str, report: dict[str, Any], session_id: str | None = None) -> bool:
    """Store `report` in the history, print how it compares with the previous run; True if it regressed."""
    from bench.history import BenchHistory
    from storage.telemetry import TelemetryStore

    store = TelemetryStore.from_path(settings.database_path)
    try:
        changes = BenchHistory(store, settings.bench).keep(suite, report, session_id)
    finally:
        store.close()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if not changes:
        err.print(f"[dim]{suite}: first kept run; the next one is compared with it.[/dim]")
        return False
    table = Table("metric", "previous", "now", "change", title=f"{suite}: compared with the previous run")
    for c in changes:
        change = "new" if c.change_pct is None else f"{c.change_pct:+.1f}%"
        style = "red" if c.regression else ("green" if c.improved else "")
        mark = " REGRESSION" if c.regression else ""
        table.add_row(
            c.metric, _fmt(c.before), _fmt(c.after), f"[{style}]{change}{mark}[/{style}]" if style else change
        )
    err.print(table)
    regressions = [c for c in changes if c.regression]
    for c in regressions:
        err.print(f"[red]! {c.metric}: {_fmt(c.before)} -> {_fmt(c.after)}.[/red] {c.hint}")
    if not regressions:
        err.print(f"[green]{suite}: no regression beyond the thresholds.[/green]")
    return bool(regressions)


def publish(settings: Settings, suite: str, report: dict[str, Any], save: bool) -> None:
    """Print the report as JSON on stdout and, with `save`, keep it and compare it with the last run."""
    print(json.dumps(report, indent=2))  # noqa: T201 - the report is the output
    if save:
        keep_and_compare(settings, suite, report)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.1f}"
    return str(value)


@app.command("memory")
def memory(
    bench_file: Annotated[Path, typer.Option("--bench", help="Benchmark JSON.")] = Path(
        "../shared/bench/memory_bench.json"
    ),
    extraction_turns: Annotated[int, typer.Option(help="Turns to time extract_learnings on (0 skips).")] = 5,
    update_probes: Annotated[
        int, typer.Option(help="Updated-fact probes to learn through the embedded model (0 skips).")
    ] = 24,
    save: Save = True,
) -> None:
    """Recall@k vs BM25, updated facts, absent probes, search latency at 1k/10k, learning with the model."""
    from bench.memory import run

    settings = load_or_exit()
    setup_logging(settings)
    if not bench_file.exists():
        console().print(f"[red]No benchmark file at {bench_file}; pass --bench PATH.[/red]")
        raise typer.Exit(2)
    report = asyncio.run(run(settings, bench_file, extraction_turns=extraction_turns, update_probes=update_probes))
    publish(settings, "memory", report, save)


@app.command("turn")
def turn(
    turns: Annotated[int, typer.Option(help="Turns with the instant scripted model.")] = 50,
    embedded_turns: Annotated[int, typer.Option(help="Turns with the embedded model (0 skips it).")] = 3,
    max_tokens: Annotated[int, typer.Option(help="Answer length cap for the embedded model.")] = 48,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    save: Save = True,
) -> None:
    """Per-node timings, graph overhead and time-to-first-token (Sena vs direct llama.cpp)."""
    from bench.turn import run

    settings = load_or_exit()
    setup_logging(settings)
    report = asyncio.run(run(settings, turns=turns, embedded_turns=embedded_turns, max_tokens=max_tokens))
    if as_json:
        print(json.dumps(report, indent=2))  # noqa: T201 - machine-readable output
    else:
        show_turn_report(report)
    if save:
        keep_and_compare(settings, "turn", report)


def show_turn_report(report: dict[str, Any]) -> None:
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
    save: Save = True,
) -> None:
    """Sandboxed call overhead (warm worker), load time of all extensions, hot-reload latency."""
    from bench.extensions import run

    settings = load_or_exit()
    setup_logging(settings)
    report = run(settings, calls=calls, reloads=reloads)
    publish(settings, "extensions", report, save)


@app.command("load")
def load(
    clients: Annotated[int, typer.Option(help="Concurrent clients, each on its own thread.")] = 50,
    turns: Annotated[int, typer.Option(help="Turns per client.")] = 2,
    save: Save = True,
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
    publish(settings, "load", report, save)


@app.command("database")
def database(
    samples: Annotated[int, typer.Option(help="Operations timed per measurement.")] = 200,
    save: Save = True,
) -> None:
    """SQLite read/write latency: checkpoint write and read, telemetry write, thread list."""
    from bench.database import run

    settings = load_or_exit()
    setup_logging(settings)
    report = run(settings, samples=samples)
    publish(settings, "database", report, save)


@app.command("routing")
def routing(
    model: Annotated[
        bool, typer.Option("--model/--no-model", help="Let the router model decide what rules cannot.")
    ] = True,
    save: Save = True,
) -> None:
    """Intent accuracy on a held-out set of 254 realistic messages, per intent, with latency."""
    from bench.routing import run

    settings = load_or_exit()
    setup_logging(settings)
    publish(settings, "routing", asyncio.run(run(settings, use_model=model)), save)


@app.command("passing")
def passing(
    sets: Annotated[int, typer.Option(help="Sets to run, from the first (0 = all).")] = 0,
    max_tokens: Annotated[int, typer.Option(help="Answer length cap (the router role keeps its own).")] = 160,
    data: Annotated[
        Path | None,
        typer.Option(help="Another facts-in-passing file (kept in history as passing:<its name>)."),
    ] = None,
    save: Save = True,
) -> None:
    """Facts said in passing, asked later on another thread, with the embedded model and real memory."""
    from bench.passing import DATA, run

    settings = load_or_exit()
    setup_logging(settings)
    path = data or DATA
    suite = "passing" if path.resolve() == DATA else f"passing:{path.stem}"
    publish(settings, suite, asyncio.run(run(settings, sets=sets or None, path=path, max_tokens=max_tokens)), save)


@app.command("generate")
def generate(
    limit: Annotated[int, typer.Option(help="Requests to run, from the first (0 = all).")] = 0,
    attempts: Annotated[int, typer.Option(help="Tries per request, with the errors fed back.")] = 3,
    save: Save = True,
) -> None:
    """AI-generated extensions on 40 held-out one-line requests: success, correctness, time, failure reasons."""
    from bench.generate import run

    settings = load_or_exit()
    setup_logging(settings)
    publish(settings, "generate", asyncio.run(run(settings, limit=limit or None, attempts=attempts)), save)


@app.command("recall")
def recall(save: Save = True) -> None:
    """Memory recall on held-out multi-session conversations (193 questions by type), beside BM25."""
    from bench.recall import run

    settings = load_or_exit()
    setup_logging(settings)
    publish(settings, "recall", asyncio.run(run(settings)), save)


@app.command("long")
def long(
    turns: Annotated[int, typer.Option(help="Turns on one thread; marks at 10, 100, 500 and 1,000.")] = 1000,
    save: Save = True,
) -> None:
    """A months-long thread: per-turn time, database bytes per turn and checkpoint rows as it grows."""
    from bench.long import run

    settings = load_or_exit()
    setup_logging(settings)
    publish(settings, "long", asyncio.run(run(settings, turns=turns)), save)


@app.command("history")
def history(
    suite: Annotated[str | None, typer.Argument(help="One suite (turn, memory, extensions, database, load).")] = None,
    metric: Annotated[str, typer.Option(help="Only metrics matching this glob.")] = "*",
) -> None:
    """The kept runs of each suite (newest first), metric by metric."""
    import fnmatch
    import time

    from bench.history import BenchHistory
    from storage.telemetry import TelemetryStore

    settings = load_or_exit()
    if not settings.database_path.exists():
        console().print("No benchmark has been kept yet: run `sena bench database` (or another suite).")
        return
    store = TelemetryStore.from_path(settings.database_path)
    try:
        bench = BenchHistory(store, settings.bench)
        suites = [suite] if suite else store.benchmark_suites()
        out = console()
        for name in suites:
            sessions = bench.sessions(name)
            if not sessions:
                out.print(f"{name}: no kept runs.")
                continue
            stamps = [time.strftime("%m-%d %H:%M", time.localtime(s.ts)) for s in sessions]
            table = Table("metric", *stamps, title=f"{name}: last {len(sessions)} runs, newest first")
            for m in sorted({m for s in sessions for m in s.metrics if fnmatch.fnmatch(m, metric)}):
                table.add_row(m, *(_fmt(s.metrics[m]) if m in s.metrics else "-" for s in sessions))
            out.print(table)
    finally:
        store.close()


@app.command("all")
def run_all(
    bench_file: Annotated[Path, typer.Option("--bench", help="Memory benchmark JSON.")] = Path(
        "../shared/bench/memory_bench.json"
    ),
    embedded_turns: Annotated[int, typer.Option(help="Turns with the embedded model in the turn suite.")] = 2,
) -> None:
    """Every suite at its quick size (turn, memory without model learning, extensions, database), kept as
    one session and compared with the previous run; exit 1 if anything regressed."""
    import uuid

    from bench.database import run as run_database
    from bench.extensions import run as run_extensions
    from bench.long import run as run_long
    from bench.memory import run as run_memory
    from bench.turn import run as run_turn

    settings = load_or_exit()
    setup_logging(settings)
    session = uuid.uuid4().hex[:12]
    reports: dict[str, dict[str, Any]] = {}
    reports["turn"] = asyncio.run(run_turn(settings, turns=50, embedded_turns=embedded_turns, max_tokens=48))
    if bench_file.exists():
        reports["memory"] = asyncio.run(run_memory(settings, bench_file, extraction_turns=0, update_probes=0))
    else:
        console().print(f"[yellow]memory suite skipped: no benchmark file at {bench_file} (--bench PATH).[/yellow]")
    reports["extensions"] = run_extensions(settings, calls=300, reloads=5)
    reports["database"] = run_database(settings)
    reports["long"] = asyncio.run(run_long(settings, turns=100))
    print(json.dumps(reports, indent=2))  # noqa: T201 - the report is the output
    regressed = [suite for suite, report in reports.items() if keep_and_compare(settings, suite, report, session)]
    if regressed:
        raise typer.Exit(1)
