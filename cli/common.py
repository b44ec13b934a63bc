"""What every command shares: settings loading with friendly errors, logging, the console."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from config.errors import ConfigError
from config.settings import CONFIG_FILES, Settings, config_dir, load_settings
from graph.tracing import configure_langsmith
from providers.model_files import Progress as ProgressFn
from storage.logs import LogStore, SqliteLogHandler

if TYPE_CHECKING:
    from graph.session import Sena


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def load_or_exit() -> Settings:
    """Load settings or exit with the message naming the bad key (no traceback).

    With no configuration file at all, Sena runs on its defaults and says so."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(f"[red]{exc.message}[/red]")
        err.print(f"[yellow]{exc.hint}[/yellow]")
        raise typer.Exit(2) from exc
    if not (folder := config_dir()).is_dir() or not any((folder / name).exists() for name in CONFIG_FILES):
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[yellow]! No configuration files in {folder}; running on the built-in defaults.[/yellow]"
        )
    return settings


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(settings: Settings, keep_records: bool = False) -> None:
    """Terminal logging at `logging.level` and rotating files in `<data_dir>/logs/` (when writable).

    `keep_records` (the chat and the server) also keeps records at `logging.store_level` and
    up in the database's `logs` table; one-shot commands do not create or touch the database for that.
    """
    config = settings.logging
    terminal = logging.StreamHandler()
    terminal.setLevel(config.level)
    handlers: list[logging.Handler] = [terminal]
    if config.file:
        from logging.handlers import RotatingFileHandler

        try:
            folder = settings.data_dir / "logs"
            folder.mkdir(parents=True, exist_ok=True)
            file = RotatingFileHandler(folder / "sena.log", maxBytes=config.max_bytes, backupCount=config.backups)
            file.setLevel(config.file_level)
            handlers.append(file)
            if keep_records:
                store = LogStore.from_path(settings.database_path)
                handlers.append(SqliteLogHandler(store, logging.getLevelName(config.store_level)))
        except (OSError, sqlite3.Error):
            pass  # an unwritable data folder is reported by the start-up checks, with the fix
    logging.raiseExceptions = False  # a log file on a full disk must not print tracebacks at the user
    levels = [config.level, *([config.file_level, config.store_level] if config.file else [])]
    lowest = min(logging.getLevelName(level) for level in levels)
    logging.basicConfig(level=lowest, format=LOG_FORMAT, handlers=handlers, force=True)
    # LangSmith tracing only with a key and a reachable endpoint, so offline exits never block.
    if why := configure_langsmith():
        Console(stderr=True).print(f"[yellow]! {why}[/yellow]")


def with_sena(work: Callable[[Sena], Awaitable[Any]]) -> Any:
    """Open Sena (checkpointer and services) for one command, run `work`, close it.

    A LookupError or ValueError from `work` is the user's mistake: shown as a message, exit 1.
    """
    from graph.session import open_sena

    settings = load_or_exit()
    setup_logging(settings)

    async def run() -> Any:
        async with open_sena(settings) as sena:
            return await work(sena)

    try:
        return asyncio.run(run())
    except (LookupError, ValueError) as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


def model_progress(out: Console) -> ProgressFn:
    """Return a callback showing a progress bar while the embedded model file is assembled."""
    state: dict[str, object] = {}

    def report(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            out.print("[dim]Preparing the embedded model (one time: joining its parts and checking them)...[/dim]")
            bar = Progress(TextColumn("model"), BarColumn(), DownloadColumn(), console=out, transient=True)
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task("join", total=total)
        assert isinstance(bar, Progress)
        bar.update(state["task"], completed=done)  # type: ignore[arg-type]
        if done >= total:
            bar.stop()
            state.clear()

    return report
