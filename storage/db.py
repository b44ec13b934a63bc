"""SQLite connections with WAL and numbered migrations recorded in `schema_migrations`."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Self


def connect(path: Path, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open `path` for use from several threads (callers serialise writes) with WAL enabled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=busy_timeout_s, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")  # setting up waits for a writer (a log record) even on a 0 s store
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file: freed pages can go back
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: a commit survives a crash of Sena, not a power cut
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends it by itself on some errors (a full
    disk), and a ROLLBACK then would hide the real error behind "no transaction is active"."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> int:
    """Apply the migrations of `component` not applied yet; return the schema version reached."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " component TEXT NOT NULL, version INTEGER NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (datetime('now')), PRIMARY KEY (component, version))"
    )
    row = conn.execute(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?", (component,)
    ).fetchone()
    current = int(row[0])
    for version, sql in enumerate(migrations, start=1):
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, sql.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (component, version) VALUES (?, ?)", (component, version))
            conn.execute("COMMIT")
        except Exception:
            rollback(conn)
            raise
        current = version
    return current


class SqliteStore:
    """A table group in a SQLite file: one connection shared between threads, writes serialised,
    schema from numbered `MIGRATIONS` recorded under `COMPONENT`.

    The connection never waits inside SQLite for another writer while holding the Python lock:
    `_tx` retries outside it. Otherwise a thread waiting for the write lock would hold up a read
    on the event loop, and the loop is what the checkpointer's aiosqlite connection needs to
    commit and release that write lock (a deadlock that lasted the 30 s busy timeout).
    """

    COMPONENT: ClassVar[str]
    MIGRATIONS: ClassVar[Sequence[str]]
    BUSY_TIMEOUT_S: ClassVar[float] = 30.0

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, path: Path, **options: Any) -> Self:
        store = cls(connect(path, busy_timeout_s=0), **options)
        store.setup()
        return store

    def setup(self) -> None:
        """Bring the schema up to date (idempotent)."""
        self._retrying(lambda: migrate(self._conn, self.COMPONENT, self.MIGRATIONS))

    def _retrying(self, work: Any) -> Any:
        deadline = time.monotonic() + self.BUSY_TIMEOUT_S
        while True:
            with self._lock:
                try:
                    return work()
                except sqlite3.OperationalError as exc:
                    if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                        raise
            time.sleep(0.005)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read rows (WAL readers rarely wait; when they must, retry outside the lock)."""
        rows: list[sqlite3.Row] = self._retrying(lambda: self._conn.execute(sql, tuple(params)).fetchall())
        return rows

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken (with retries) before anyone else can write."""
        deadline = time.monotonic() + self.BUSY_TIMEOUT_S
        while True:
            with self._lock:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() > deadline:
                        raise
                else:
                    try:
                        yield self._conn
                        self._conn.execute("COMMIT")
                    except BaseException:
                        rollback(self._conn)
                        raise
                    return
            time.sleep(0.005)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
