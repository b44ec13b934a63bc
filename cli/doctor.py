"""`sena doctor`: this machine's readiness to run Sena, check by check, with the exact fix."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.common import console, load_or_exit
from ops.doctor import Check, all_checks, quick_checks, worst

MARK = {"pass": "[green]pass[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def show(checks: list[Check], out: Console, only_problems: bool = False) -> None:
    for check in checks:
        if only_problems and check.status == "pass":
            continue
        out.print(f"{MARK[check.status]}  {check.name}: {check.detail}")
        if check.fix and check.status != "pass":
            out.print(f"      fix: {check.fix}")


def doctor(quick: Annotated[bool, typer.Option(help="Only the checks `sena chat` runs at start.")] = False) -> None:
    """Check configuration, data folder, database, models, embedder, memory store, extensions, API port."""
    settings = load_or_exit()
    out = console()
    checks = quick_checks(settings) if quick else all_checks(settings)
    show(checks, out)
    verdict = worst(checks)
    out.print(
        {
            "pass": "[green]All good.[/green]",
            "warn": "[yellow]Usable, with warnings.[/yellow]",
            "fail": "[red]Sena cannot run as configured; see the fixes above.[/red]",
        }[verdict]
    )
    if verdict == "fail":
        raise typer.Exit(1)
