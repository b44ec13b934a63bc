"""Bounded history for SQLite checkpoints: node-level time travel for recent turns, one checkpoint
for each older turn.

A turn writes about seven checkpoints (its input, then one per node). Those of the latest
`database.node_history_turns` turns of a thread are kept, so any of their steps can be inspected,
replayed and forked. An older turn is compacted to its last checkpoint (the state after the turn):

- the others, and their pending writes, are deleted;
- the kept checkpoint is linked to the previous turn's, so the thread's history stays one chain,
  and is marked `sena_compacted` in its metadata, so `list_turns` shows it as a turn of its own;
- its conversation window is trimmed like a new turn's (a thread from before the window kept
  every message in every checkpoint; the transcript is in the conversation log);
- the recordings of compacted turns go too: a turn that cannot be replayed node by node needs none.

After each turn only the turn that just aged out is compacted, found by walking back from the
newest checkpoint, so the work per turn does not grow with the thread. Freed pages go back to the
file system with `PRAGMA incremental_vacuum` (databases created with `auto_vacuum=INCREMENTAL`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.db import connect, rollback

log = logging.getLogger(__name__)

COMPACTED = "sena_compacted"
ROW = "thread_id = ? AND checkpoint_ns = '' AND checkpoint_id"


@dataclass
class Compacted:
    turns: int = 0
    checkpoints_deleted: int = 0
    recordings_deleted: int = 0


@dataclass(frozen=True)
class Row:
    checkpoint_id: str
    parent: str | None
    source: str | None
    compacted: bool


class Compactor:
    """What every checkpointer's compactor shares: finding the turns that aged out of node-level history.

    Subclasses read a thread's checkpoints newest first (`_rows`) and compact turns in their database.
    """

    def __init__(self, keep_turns: int, window: int, serde: Any = None) -> None:
        self.keep_turns = keep_turns
        self.window = window
        self.serde = serde
        self._conn: Any = None  # the subclass's own connection, opened on first use

    def _rows(self, thread_id: str, before: str | None = None) -> Generator[Row, None, None]:
        raise NotImplementedError

    def threads(self) -> list[str]:
        raise NotImplementedError

    def compact_thread(self, thread_id: str) -> Compacted:
        raise NotImplementedError

    def give_back_space(self) -> None:
        """Return freed space to the file system where the database can (SQLite)."""

    def vacuum(self) -> None:
        """Rewrite the database once after a large compaction, where that gives space back."""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def old_turns(self, thread_id: str) -> list[list[Row]]:
        """Turns older than the kept ones and not compacted yet, oldest first (rows oldest first).

        Only a single chain is compacted: where a fork branched off, the thread is left as it is.
        """
        starts_seen = 0
        turns: list[list[Row]] = []
        current: list[Row] = []
        newer: Row | None = None
        rows = self._rows(thread_id)
        for row in rows:
            if row.compacted:
                break  # everything older is compacted already
            if newer is not None and newer.parent != row.checkpoint_id:
                log.info("thread %s has branches; its history is not compacted", thread_id)
                rows.close()
                return []
            newer = row
            current.append(row)
            if row.source == "input":
                starts_seen += 1
                if starts_seen > self.keep_turns:
                    turns.append(list(reversed(current)))
                current = []
        rows.close()
        return list(reversed(turns))

    def previous_kept(self, thread_id: str, before: str) -> str | None:
        older = self._rows(thread_id, before)
        found = next((r.checkpoint_id for r in older), None)
        older.close()
        return found

    def compact_all(self, progress: Callable[[str, int, int], None] | None = None) -> Compacted:
        """Compact every thread (the upgrade of an older database, and `sena threads compact`)."""
        threads = self.threads()
        total = Compacted()
        for index, thread_id in enumerate(threads, start=1):
            done = self.compact_thread(thread_id)
            total.turns += done.turns
            total.checkpoints_deleted += done.checkpoints_deleted
            total.recordings_deleted += done.recordings_deleted
            if progress is not None:
                progress(thread_id, index, len(threads))
        return total

    def question_id(self, messages: list[Any]) -> str | None:
        question = next((m for m in reversed(messages) if getattr(m, "type", "") == "human"), None)
        return str(question.id) if question is not None and question.id else None


class SqliteCompactor(Compactor):
    """Compacts the checkpoints of one SQLite file (a connection of its own, used from one thread at a time)."""

    def __init__(self, path: Path, keep_turns: int, window: int, serde: Any = None) -> None:
        super().__init__(keep_turns, window, serde)
        self.path = path

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
        conn: sqlite3.Connection = self._conn
        return conn

    def threads(self) -> list[str]:
        if not _has_table(self.conn(), "checkpoints"):
            return []
        return [r[0] for r in self.conn().execute("SELECT DISTINCT thread_id FROM checkpoints")]

    def _rows(self, thread_id: str, before: str | None = None) -> Generator[Row, None, None]:
        """The thread's checkpoints newest first (below `before`), read lazily."""
        sql = (
            "SELECT checkpoint_id, parent_checkpoint_id, json_extract(CAST(metadata AS TEXT), '$.source') AS source,"
            f" json_extract(CAST(metadata AS TEXT), '$.{COMPACTED}') AS compacted FROM checkpoints"
            " WHERE thread_id = ? AND checkpoint_ns = ''"
        )
        params: tuple[Any, ...] = (thread_id,)
        if before is not None:
            sql += " AND checkpoint_id < ?"
            params += (before,)
        cursor = self.conn().execute(sql + " ORDER BY checkpoint_id DESC", params)
        try:
            for r in cursor:
                yield Row(r["checkpoint_id"], r["parent_checkpoint_id"], r["source"], bool(r["compacted"]))
        finally:
            cursor.close()  # an unfinished statement would keep a read transaction open

    def compact_thread(self, thread_id: str, recordings: bool = True) -> Compacted:
        """Compact every turn of `thread_id` beyond the kept ones; return what was done."""
        done = Compacted()
        turns = self.old_turns(thread_id)
        if not turns:
            return done
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            previous = self.previous_kept(thread_id, turns[0][0].checkpoint_id)
            for rows in turns:
                kept = rows[-1]
                gone = [r.checkpoint_id for r in rows[:-1]]
                marks = ",".join("?" * len(gone))
                if gone:
                    conn.execute(
                        f"DELETE FROM checkpoints WHERE {ROW} IN ({marks})",
                        (thread_id, *gone),
                    )
                    conn.execute(
                        f"DELETE FROM writes WHERE {ROW} IN ({marks})",
                        (thread_id, *gone),
                    )
                turn_key = self._trim(thread_id, kept.checkpoint_id)
                conn.execute(
                    f"UPDATE checkpoints SET parent_checkpoint_id = ?,"
                    f" metadata = CAST(json_set(CAST(metadata AS TEXT), '$.{COMPACTED}', 1) AS BLOB)"
                    f" WHERE {ROW} = ?",
                    (previous, thread_id, kept.checkpoint_id),
                )
                if recordings and turn_key and _has_table(conn, "recordings"):
                    done.recordings_deleted += conn.execute(
                        "DELETE FROM recordings WHERE turn = ?", (turn_key,)
                    ).rowcount
                previous = kept.checkpoint_id
                done.turns += 1
                done.checkpoints_deleted += len(gone)
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
        return done

    def _trim(self, thread_id: str, checkpoint_id: str) -> str | None:
        """Trim the kept checkpoint's messages to the window; return the turn's key (its question's id)."""
        if self.serde is None:
            return None
        row = (
            self.conn()
            .execute(
                f"SELECT type, checkpoint FROM checkpoints WHERE {ROW} = ?",
                (thread_id, checkpoint_id),
            )
            .fetchone()
        )
        checkpoint = self.serde.loads_typed((row["type"], row["checkpoint"]))
        messages = checkpoint.get("channel_values", {}).get("messages") or []
        if len(messages) > self.window:
            checkpoint["channel_values"]["messages"] = messages[-self.window :]
            kind, blob = self.serde.dumps_typed(checkpoint)
            self.conn().execute(
                f"UPDATE checkpoints SET type = ?, checkpoint = ? WHERE {ROW} = ?",
                (kind, blob, thread_id, checkpoint_id),
            )
        return self.question_id(messages)

    def give_back_space(self, pages: int = 2000, keep_free: int = 1024) -> None:
        """Return free pages to the file system once more than `keep_free` (4 MB) have piled up,
        a bounded number at a time (no long lock). The next turns reuse a few freed pages anyway,
        so giving back every turn's would only make the file shrink and grow again."""
        conn = self.conn()
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return
        if conn.execute("PRAGMA freelist_count").fetchone()[0] > keep_free:
            conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()

    def vacuum(self) -> None:
        """Rewrite the file with incremental auto-vacuum on (once, for a database made before it)."""
        conn = self.conn()
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()  # the rewritten file went through the log


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def database_bytes(path: Path) -> int:
    """The file and its write-ahead log, as the file system counts them."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def describe(done: Compacted) -> str:
    return json.dumps(done.__dict__)


class PostgresCompactor(Compactor):
    """Compacts LangGraph's PostgreSQL checkpoints (its own connection, used from one thread at a time).

    There, a checkpoint names a version of each channel, and the values live once per version in
    `checkpoint_blobs`. A compacted turn's deleted checkpoints free the versions that only they
    named: those written during the turn and replaced before its end. The versions the kept
    checkpoint or the previous turn's name stay. Recordings live in each worker's `sena.db`:
    `forget_turns` drops them there.
    """

    def __init__(
        self,
        url: str,
        keep_turns: int,
        window: int,
        serde: Any = None,
        forget_turns: Callable[[list[str]], int] | None = None,
    ) -> None:
        super().__init__(keep_turns, window, serde)
        self.url = url
        self.forget_turns = forget_turns
        self.page_rows = 200
        self.vacuum_every = 50  # compacted turns between two VACUUMs of the checkpoint tables
        self._since_vacuum = 0

    def conn(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row)
        return self._conn

    def threads(self) -> list[str]:
        return [r["thread_id"] for r in self.conn().execute("SELECT DISTINCT thread_id FROM checkpoints")]

    def _rows(self, thread_id: str, before: str | None = None) -> Generator[Row, None, None]:
        """Newest first, a page at a time (a plain cursor would fetch the whole thread at once)."""
        sql = (
            "SELECT checkpoint_id, parent_checkpoint_id, metadata->>'source' AS source,"
            f" metadata ? '{COMPACTED}' AS compacted FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''"
            " AND (%s::text IS NULL OR checkpoint_id < %s) ORDER BY checkpoint_id DESC LIMIT %s"
        )
        while True:
            page = self.conn().execute(sql, (thread_id, before, before, self.page_rows)).fetchall()
            for r in page:
                yield Row(r["checkpoint_id"], r["parent_checkpoint_id"], r["source"], bool(r["compacted"]))
            if len(page) < self.page_rows:
                return
            before = page[-1]["checkpoint_id"]

    def _versions(self, thread_id: str, ids: list[str]) -> set[tuple[str, str]]:
        rows = self.conn().execute(
            "SELECT v.key AS channel, v.value #>> '{}' AS version FROM checkpoints c,"
            " jsonb_each(c.checkpoint -> 'channel_versions') v"
            " WHERE c.thread_id = %s AND c.checkpoint_ns = '' AND c.checkpoint_id = ANY(%s)",
            (thread_id, ids),
        )
        return {(r["channel"], r["version"]) for r in rows}

    def _question(self, thread_id: str, versions: set[tuple[str, str]]) -> str | None:
        version = next((v for c, v in versions if c == "messages"), None)
        if version is None or self.serde is None:
            return None
        row = (
            self.conn()
            .execute(
                "SELECT type, blob FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = ''"
                " AND channel = 'messages' AND version = %s",
                (thread_id, version),
            )
            .fetchone()
        )
        return self.question_id(self.serde.loads_typed((row["type"], row["blob"]))) if row and row["blob"] else None

    def compact_thread(self, thread_id: str) -> Compacted:
        done = Compacted()
        turns = self.old_turns(thread_id)
        if not turns:
            return done
        conn = self.conn()
        questions: list[str] = []
        with conn.transaction():
            previous = self.previous_kept(thread_id, turns[0][0].checkpoint_id)
            for rows in turns:
                kept, gone = rows[-1].checkpoint_id, [r.checkpoint_id for r in rows[:-1]]
                still_named = self._versions(thread_id, [kept, *([previous] if previous else [])])
                freed = self._versions(thread_id, gone) - still_named
                if question := self._question(thread_id, self._versions(thread_id, [kept])):
                    questions.append(question)
                conn.execute(
                    "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' AND checkpoint_id = ANY(%s)",
                    (thread_id, gone),
                )
                conn.execute(
                    "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = ''"
                    " AND checkpoint_id = ANY(%s)",
                    (thread_id, gone),
                )
                for channel, version in freed:
                    conn.execute(
                        "DELETE FROM checkpoint_blobs WHERE thread_id = %s AND checkpoint_ns = ''"
                        " AND channel = %s AND version = %s",
                        (thread_id, channel, version),
                    )
                conn.execute(
                    "UPDATE checkpoints SET parent_checkpoint_id = %s,"
                    f" metadata = metadata || '{{\"{COMPACTED}\": 1}}'::jsonb"
                    " WHERE thread_id = %s AND checkpoint_ns = '' AND checkpoint_id = %s",
                    (previous, thread_id, kept),
                )
                previous = kept
                done.turns += 1
                done.checkpoints_deleted += len(gone)
        if self.forget_turns is not None and questions:
            done.recordings_deleted = self.forget_turns(questions)
        self._since_vacuum += done.turns
        return done

    def give_back_space(self) -> None:
        """VACUUM the checkpoint tables now and then, so the rows compaction deleted are reused
        at once rather than when autovacuum next wakes up (their scans would otherwise slow down)."""
        if self._since_vacuum >= self.vacuum_every:
            self._since_vacuum = 0
            self.conn().execute("VACUUM (ANALYZE) checkpoints, checkpoint_blobs, checkpoint_writes")
