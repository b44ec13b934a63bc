"""WARNING and worse log records in SQLite (`logs` in data/sena.db), for `sena doctor`, stats and the API.

The handler never writes on the caller's thread: records go into a queue and a background
thread writes them in batches, so logging from the event loop cannot block it on a SQLite lock.
"""

from __future__ import annotations

import logging
import queue
import threading
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
        rows = self._query(
            "SELECT ts, level, logger, message FROM logs WHERE levelno >= ? ORDER BY id DESC LIMIT ?", (level, limit)
        )
        return [dict(r) for r in reversed(rows)]


class SqliteLogHandler(logging.Handler):
    """Queue records (WARNING and up by default) and write them to a `LogStore` from a thread."""

    def __init__(self, store: LogStore, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self.store = store
        self.queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        self.writer = threading.Thread(target=self._drain, name="sena-log-writer", daemon=True)
        self.writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        self.queue.put(record)

    def _drain(self) -> None:
        stopping = False
        while not stopping:
            batch: list[logging.LogRecord] = []
            item = self.queue.get()  # wait for the first, then take whatever else is queued
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if self.queue.empty():
                    break
                item = self.queue.get()
            if batch:
                try:
                    self.store.add_many([self._row(r) for r in batch])
                except Exception:  # a log sink must never break the program
                    self.handleError(batch[-1])

    def _row(self, record: logging.LogRecord) -> tuple[str, str, int, str, str]:
        ts = self.formatter.formatTime(record) if self.formatter else logging.Formatter().formatTime(record)
        return ts, record.levelname, record.levelno, record.name, record.getMessage()[:4000]

    def close(self) -> None:
        self.queue.put(None)
        self.writer.join(timeout=5)
        self.store.close()
        super().close()
