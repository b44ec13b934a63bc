"""One turn at a time per thread, across processes and workers.

Inside a process an `asyncio.Lock` per thread queues turns (`graph/session.py`); these locks
queue them across processes: `sena chat` in one terminal and `sena serve` (or a second chat, or
`sena turns fork`) in another, on the same data folder or the same PostgreSQL.

- `SqliteThreadLocks`: a row per thread in `sena.db` names its owner (a process id on this host).
  A crashed owner's row is taken over once its process is gone. The row also counts the turns
  taken on the thread, so an owner can tell that nobody else touched it since its last turn
  (`Held.untouched`), and skip looking for a turn someone else left unfinished.
- `PostgresThreadLocks`: a session-level advisory lock per thread on one connection, which
  PostgreSQL itself releases when the process dies.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from storage.db import SqliteStore

log = logging.getLogger(__name__)

POLL_S = 0.05


@dataclass(frozen=True)
class Held:
    waited: bool
    """Another process had the thread when the turn asked for it."""
    untouched: bool
    """Nobody else took the thread since this process last released it (always False when unknown)."""


class ThreadLocks(Protocol):
    def hold(self, thread_id: str) -> AbstractAsyncContextManager[Held]: ...

    def busy(self, thread_id: str) -> bool: ...

    async def aclose(self) -> None: ...


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class SqliteThreadLocks(SqliteStore):
    COMPONENT = "thread_locks"
    MIGRATIONS = (
        "CREATE TABLE thread_locks ("
        " thread_id TEXT PRIMARY KEY, owner TEXT, pid INTEGER, host TEXT, since REAL,"
        " taken INTEGER NOT NULL DEFAULT 0)",
    )

    def __init__(self, conn: Any) -> None:
        super().__init__(conn)
        self.owner = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._released: dict[str, int] = {}  # thread -> its `taken` count when this process let it go

    def try_take(self, thread_id: str) -> Held | None:
        """Take the thread's lock if it is free (or its owner died); None while another has it."""
        with self._tx() as db:
            row = db.execute(
                "SELECT owner, pid, host, taken FROM thread_locks WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            taken = int(row["taken"]) if row else 0
            if row and row["owner"] not in (None, self.owner):
                if self._owner_lives(row):
                    return None
                log.warning("thread %s: taking over the lock of process %s, which has gone", thread_id, row["pid"])
            db.execute(
                "INSERT INTO thread_locks (thread_id, owner, pid, host, since, taken) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (thread_id) DO UPDATE SET owner = excluded.owner, pid = excluded.pid,"
                " host = excluded.host, since = excluded.since, taken = excluded.taken",
                (thread_id, self.owner, os.getpid(), self.host, time.time(), taken + 1),
            )
        return Held(waited=False, untouched=self._released.get(thread_id) == taken)

    def release(self, thread_id: str) -> None:
        with self._tx() as db:
            row = db.execute(
                "UPDATE thread_locks SET owner = NULL WHERE thread_id = ? AND owner = ? RETURNING taken",
                (thread_id, self.owner),
            ).fetchone()
        if row is not None:
            self._released[thread_id] = int(row["taken"])

    def owner_of(self, thread_id: str) -> int | None:
        """The process id holding the thread, if any."""
        rows = self._query("SELECT pid FROM thread_locks WHERE thread_id = ? AND owner IS NOT NULL", (thread_id,))
        return int(rows[0]["pid"]) if rows else None

    def busy(self, thread_id: str) -> bool:
        """Whether another live process holds the thread."""
        rows = self._query(
            "SELECT pid, host FROM thread_locks WHERE thread_id = ? AND owner IS NOT NULL AND owner != ?",
            (thread_id, self.owner),
        )
        return bool(rows) and self._owner_lives(rows[0])

    def _owner_lives(self, row: Any) -> bool:
        """Whether the process a lock row names may still run: on another host it cannot be told."""
        return bool(row["host"] != self.host or _alive(int(row["pid"] or 0)))

    async def aclose(self) -> None:
        self.close()

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[Held]:
        waited = False
        while (held := await asyncio.to_thread(self.try_take, thread_id)) is None:
            waited = True
            await asyncio.sleep(POLL_S)
        try:
            yield Held(waited=waited, untouched=held.untouched and not waited)
        finally:
            await asyncio.shield(asyncio.to_thread(self.release, thread_id))


class PostgresThreadLocks:
    """Advisory locks keyed by the thread id's 64-bit hash, on one connection of this process."""

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self._conn: Any = None
        self._guard = asyncio.Lock()

    async def _connection(self) -> Any:
        from psycopg import AsyncConnection

        if self._conn is None or self._conn.closed:
            self._conn = await AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=int(self.connect_timeout_s)
            )
        return self._conn

    async def _call(self, sql: str, thread_id: str) -> bool:
        async with self._guard:
            conn = await self._connection()
            cursor = await conn.execute(sql, (thread_id,))
            row = await cursor.fetchone()
            return bool(row and row[0])

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[Held]:
        waited = False
        while not await self._call("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", thread_id):
            waited = True
            await asyncio.sleep(POLL_S)
        try:
            yield Held(waited=waited, untouched=False)
        finally:
            await asyncio.shield(self._call("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", thread_id))

    def busy(self, thread_id: str) -> bool:
        return False  # not known without asking the server; the turn just waits

    async def aclose(self) -> None:
        if self._conn is not None and not self._conn.closed:
            await self._conn.close()
        self._conn = None
