"""`sena threads`: the sessions Sena has, newest first."""

from __future__ import annotations

from rich.table import Table

from cli.common import console, load_or_exit
from storage.conversations import ConversationLog


def threads() -> None:
    """List threads (sessions) with their turn counts and last activity."""
    settings = load_or_exit()
    out = console()
    if not settings.database_path.exists():
        out.print("No threads yet. Start one with `sena chat --thread NAME`.")
        return
    log = ConversationLog.from_path(settings.database_path)
    try:
        rows = log.threads()
    finally:
        log.close()
    if not rows:
        out.print("No threads yet. Start one with `sena chat --thread NAME`.")
        return
    table = Table("thread", "title", "turns", "status", "updated")
    for row in rows:
        table.add_row(row.thread_id, row.title or "", str(row.turns), row.status, row.updated_at)
    out.print(table)
