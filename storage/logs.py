"""Log records in SQLite (`logs` in data/sena.db, at `logging.store_level` and up), for `sena
doctor`, stats, the API's /debug/logs and the studio; pruned with the telemetry's retention.

The handler never writes on the caller's thread: `logging.handlers.QueueHandler` puts records on
a bounded queue and a `QueueListener` thread writes them, so logging from the event loop cannot
block it on a SQLite lock.
"""

from __future__ import annotations

import copy
import logging
import queue
from datetime import datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from storage.db import SqliteStore

MIGRATIONS = (
    """
    CREATE TABLE logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        level TEXT NOT NULL,
        levelno INTEGER NOT NULL,
        logger TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX logs_ts ON logs(ts)
    """,
)


class LogStore(SqliteStore):
    COMPONENT = "logs"
    MIGRATIONS = MIGRATIONS

    def add_many(self, rows: list[tuple[str, str, int, str, str]]) -> None:
        with self._tx() as conn:
            conn.executemany("INSERT INTO logs (ts, level, levelno, logger, message) VALUES (?, ?, ?, ?, ?)", rows)

    def recent(self, level: int = logging.WARNING, limit: int = 100) -> list[dict[str, Any]]:
        return self.query(level, limit)

    def query(
        self,
        level: int = logging.INFO,
        limit: int = 100,
        search: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The latest `limit` records at `level` or above, oldest first; `search` matches the
        message or logger (case-insensitive), `since`/`until` bound the time (local time, as logged)."""
        where: list[str] = ["levelno >= ?"]
        params: list[Any] = [level]
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("(message LIKE ? ESCAPE '\\' OR logger LIKE ? ESCAPE '\\')")
            params += [f"%{escaped}%", f"%{escaped}%"]
        if since is not None:
            where.append("ts >= ?")
            params.append(since.strftime(TS_FORMAT))
        if until is not None:
            where.append("ts <= ?")
            params.append(until.strftime(TS_FORMAT))
        rows = self._query(
            f"SELECT id, ts, level, logger, message FROM logs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [dict(r) for r in reversed(rows)]


TS_FORMAT = "%Y-%m-%d %H:%M:%S"
"""How `logging` writes `asctime` (before its milliseconds), which the `ts` column holds."""


class StoreWriter(logging.Handler):
    """Write records to a `LogStore`; run by `QueueListener` on its thread, never the caller's."""

    def __init__(self, store: LogStore) -> None:
        super().__init__()
        self.store = store

    def emit(self, record: logging.LogRecord) -> None:
        try:
            ts = logging.Formatter().formatTime(record)
            self.store.add_many([(ts, record.levelname, record.levelno, record.name, record.getMessage()[:4000])])
        except Exception:  # a full disk, a locked database: a log sink never breaks the program or its thread
            self.handleError(record)


class DroppingQueueHandler(QueueHandler):
    """A `QueueHandler` on a bounded queue that drops a record rather than wait when the writer is
    behind (a full disk, a locked database): logging must never stall a turn."""

    dropped = 0

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record with its message merged (as the base class does) but not formatted: the
        store keeps time, level and logger in columns of their own."""
        prepared = copy.copy(record)
        prepared.msg = prepared.message = record.getMessage()
        prepared.args, prepared.exc_info, prepared.exc_text, prepared.stack_info = None, None, None, None
        return prepared

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1


class SqliteLogHandler(DroppingQueueHandler):
    """Keep records at `level` and above in the database's `logs` table, written by a
    `QueueListener` thread from a bounded queue."""

    def __init__(self, store: LogStore, level: int = logging.WARNING, capacity: int = 10_000) -> None:
        super().__init__(queue.Queue(capacity))
        self.setLevel(level)
        self.store = store
        self.listener = QueueListener(self.queue, StoreWriter(store))
        self.listener.start()

    def close(self) -> None:
        if self.listener._thread is not None:  # closed once: by its owner or by logging at exit
            self.listener.stop()  # writes what is queued, then the thread ends
            self.store.close()
        super().close()
