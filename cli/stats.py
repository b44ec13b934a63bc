"""`sena stats`: what the telemetry tables say about the last days of use."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.common import console, load_or_exit
from storage.telemetry import TelemetryStore


def _ms(figures: dict[str, Any]) -> tuple[str, str, str]:
    def show(value: Any) -> str:
        return "-" if value is None else f"{value:,.1f}"

    return str(figures["count"]), show(figures["p50"]), show(figures["p95"])


def stats(
    days: Annotated[float, typer.Option(help="How many days back.")] = 7,
    errors: Annotated[int, typer.Option(help="Recent failures to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Response times per role and model, node timings, error rate, extension success, memory latency."""
    settings = load_or_exit()
    if not settings.database_path.exists():
        console().print(f"No data yet: {settings.database_path} does not exist. Chat first (`sena chat`).")
        return
    store = TelemetryStore.from_path(settings.database_path)
    try:
        since = time.time() - days * 86400
        summary, recent = store.summary(since), store.errors(since, errors)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"days": days, **summary, "recent_errors": recent}, indent=2))  # noqa: T201 - the output
        return
    out = console()
    rate = summary["error_rate"]
    out.print(
        f"[bold]Last {days:g} days[/bold]: {summary['turns']} turns, "
        f"error rate {'-' if rate is None else f'{rate:.1%}'}, "
        f"{sum(summary['errors_by_kind'].values())} failures ({summary['errors_recovered']} recovered)"
        + (
            f": {', '.join(f'{k} {n}' for k, n in summary['errors_by_kind'].items())}"
            if summary["errors_by_kind"]
            else ""
        )
    )
    table = Table("what", "count", "p50 ms", "p95 ms", title="Timings")
    table.add_row("turn", *_ms(summary["turn_ms"]))
    for section, label in (("response_ms", "answer"), ("node_ms", "node"), ("memory_ms", "memory")):
        for key, figures in summary[section].items():
            table.add_row(f"{label} {key}", *_ms(figures))
    out.print(table)
    if summary["extensions"]:
        ext = Table("extension", "runs", "success", "p50 ms", "p95 ms", title="Extensions")
        for name, figures in summary["extensions"].items():
            count, p50, p95 = _ms(figures)
            ext.add_row(name, count, f"{figures['success_rate']:.0%}", p50, p95)
        out.print(ext)
    for row in recent:
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["ts"]))
        state = "recovered" if row["recovered"] else "stopped"
        out.print(f"[yellow]{stamp} {row['kind']} ({state}) {row['node'] or ''}: {row['message'][:160]}[/yellow]")
    if not summary["turns"]:
        out.print("[dim]No turns recorded in that window (telemetry.enabled must be true).[/dim]")
