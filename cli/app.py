"""The `sena` command line."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from cli import bench_cmd, config_cmd, extensions_cmd, memory_cmd, threads
from cli.chat import chat
from cli.doctor import doctor
from cli.graph_cmd import graph
from cli.serve import serve
from cli.stats import stats
from cli.turns_cmd import branches, fork, inspect, replay, turns
from config.errors import SenaError, classify

app = typer.Typer(name="sena", help="Sena, a local-first personal assistant.", no_args_is_help=True)
app.command()(chat)
app.command()(graph)
app.command()(serve)
app.command()(doctor)
app.command()(stats)
for command in (turns, inspect, replay, fork, branches):
    app.command()(command)
app.add_typer(config_cmd.app, name="config")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(memory_cmd.app, name="memory")
app.add_typer(extensions_cmd.app, name="extensions")
app.add_typer(threads.app, name="threads")


def main() -> None:
    """Run the command; a failure Sena can explain is shown as its message and hint (exit 1),
    anything else keeps its traceback (a bug to report)."""
    try:
        app()
    except Exception as exc:
        error = classify(exc)
        if error.kind == "internal" and not isinstance(exc, SenaError):
            raise
        logging.getLogger("sena").debug("command failed", exc_info=True)
        out = Console(stderr=True, highlight=False, soft_wrap=True)
        out.print(f"[red]{error.message}[/red]")
        if error.hint:
            out.print(f"[yellow]{error.hint}[/yellow]")
        sys.exit(1)
