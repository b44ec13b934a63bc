"""Keep a long-lived data folder small: the one-time upgrade of an older `sena.db`, and
`sena threads compact`.

Databases from before the conversation window kept every message in every checkpoint (a
1,000-turn thread took about 2 GB). Upgrading, for each thread:
1. the conversation log's rows get the ids of the checkpoint's messages, so the transcript is
   whole in the log;
2. the latest checkpoint keeps only the window (the rest is in the log);
3. turns older than `database.node_history_turns` are compacted (storage/compaction.py);
then the file is rewritten once with incremental auto-vacuum on, so freed space goes back.
The upgrade runs at the first start after it ships (recorded as migration `history` 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from graph.state import beyond_window, window_size
from storage.compaction import database_bytes

if TYPE_CHECKING:
    from graph.session import Sena
from storage.db import connect

log = logging.getLogger(__name__)
COMPONENT = "history"


@dataclass
class UpkeepReport:
    threads: int
    turns_compacted: int
    checkpoints_deleted: int
    recordings_deleted: int
    messages_moved: int
    bytes_before: int
    bytes_after: int

    def describe(self) -> str:
        return (
            f"{self.threads} threads: {self.turns_compacted} turns compacted, "
            f"{self.checkpoints_deleted} checkpoints and {self.recordings_deleted} recordings removed, "
            f"{self.messages_moved} messages kept in the log only; "
            f"{self.bytes_before / 2**20:,.1f} MB -> {self.bytes_after / 2**20:,.1f} MB"
        )


def exchanges(messages: list[AnyMessage]) -> list[tuple[HumanMessage, AIMessage | None]]:
    pairs: list[tuple[HumanMessage, AIMessage | None]] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            pairs.append((message, None))
        elif isinstance(message, AIMessage) and pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], message)
    return pairs


async def trim_window(sena: Sena, thread_id: str, messages: list[AnyMessage]) -> int:
    """Drop the logged messages beyond the window from the thread's latest checkpoint, as a turn would."""
    keep = window_size(sena.services.settings.memory.short_term_messages)
    removals = await beyond_window(messages, thread_id, keep, sena.services.log)
    if removals:
        config: Any = {"configurable": {"thread_id": thread_id}}
        await sena.graph.aupdate_state(config, {"messages": removals}, as_node="extract_learnings")
    return len(removals)


async def compact_everything(sena: Sena, say: Callable[[str], None] = log.warning) -> UpkeepReport:
    """Upgrade and compact every thread; `say` reports progress."""
    settings = sena.services.settings
    path = settings.database_path
    before = database_bytes(path)
    log_store, compactor = sena.services.log, sena.compactor
    threads = [t.thread_id for t in await asyncio.to_thread(log_store.threads)] if log_store else []
    moved = 0
    for index, thread_id in enumerate(threads, start=1):
        messages = (await sena.state(thread_id)).values.get("messages") or []
        if log_store is not None:
            await asyncio.to_thread(log_store.backfill_ids, thread_id, exchanges(messages))
        moved += await trim_window(sena, thread_id, messages)
        if index % 10 == 0 or index == len(threads):
            say(f"  {index}/{len(threads)} threads: transcripts in the conversation log")
    report = UpkeepReport(len(threads), 0, 0, 0, moved, before, before)
    if compactor is not None:
        done = await asyncio.to_thread(
            compactor.compact_all,
            lambda _, i, n: say(f"  {i}/{n} threads compacted") if i % 10 == 0 or i == n else None,
        )
        report.turns_compacted, report.checkpoints_deleted = done.turns, done.checkpoints_deleted
        report.recordings_deleted = done.recordings_deleted
        say("  giving the space back to the file system (the file is rewritten once)")
        await asyncio.to_thread(compactor.vacuum)
    report.bytes_after = database_bytes(path)
    return report


async def upgrade_once(sena: Sena) -> UpkeepReport | None:
    """At start: compact a database from before bounded history, once; later starts do nothing."""
    if sena.compactor is None:
        return None
    conn = connect(sena.services.settings.database_path)
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (datetime('now')), PRIMARY KEY (component, version))"
        )
        if conn.execute("SELECT 1 FROM schema_migrations WHERE component = ?", (COMPONENT,)).fetchone():
            return None
        has_history = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").fetchone()
            and conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone()
        )
        report = None
        if has_history:
            size = database_bytes(sena.services.settings.database_path) / 2**20
            log.warning(
                "Upgrading %s (%.1f MB) to bounded history; this runs once.", sena.services.settings.database_path, size
            )
            report = await compact_everything(sena)
            log.warning("Upgrade done: %s", report.describe())
        conn.execute("INSERT OR IGNORE INTO schema_migrations (component, version) VALUES (?, 1)", (COMPONENT,))
        return report
    finally:
        conn.close()
