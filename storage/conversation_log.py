"""The conversation log: one row per finished turn, and the list of threads (sessions).

This is where a thread's whole transcript lives: each row keeps the user's message and the
answer with their message ids and times. The checkpointed state carries only a window of the
latest messages (what the next turn needs), so a thread's checkpoints do not grow with its
length; `sena threads show`, `/history`, export and the API read the transcript from here.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from storage.db import SqliteStore

MIGRATIONS = (
    """
    CREATE TABLE threads (
        thread_id TEXT PRIMARY KEY,
        title TEXT,
        status TEXT NOT NULL DEFAULT 'active',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        thread_id TEXT NOT NULL REFERENCES threads(thread_id),
        user_input TEXT NOT NULL,
        response TEXT NOT NULL,
        intent TEXT,
        model_used TEXT,
        processing_ms REAL,
        extensions_used TEXT NOT NULL DEFAULT '[]',
        memories_used TEXT NOT NULL DEFAULT '[]',
        errors TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
    );
    CREATE INDEX conversations_thread ON conversations(thread_id, id)
    """,
    "ALTER TABLE threads ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'",
    """
    ALTER TABLE conversations ADD COLUMN message_id TEXT;
    ALTER TABLE conversations ADD COLUMN message_ts REAL;
    ALTER TABLE conversations ADD COLUMN answer_id TEXT;
    ALTER TABLE conversations ADD COLUMN answer_ts REAL;
    CREATE INDEX conversations_message ON conversations(message_id);
    CREATE INDEX conversations_answer ON conversations(answer_id)
    """,
)
STATUSES = ("active", "paused", "completed")


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    title: str | None
    status: str
    turns: int
    created_at: str
    updated_at: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class TurnRecord:
    thread_id: str
    user_input: str
    response: str
    intent: str | None = None
    model_used: str | None = None
    processing_ms: float | None = None
    extensions_used: tuple[str, ...] = ()
    memories_used: tuple[str, ...] = ()
    errors: tuple[dict[str, Any], ...] = ()
    created_at: str | None = None  # set by the log; given when importing
    message_id: str | None = None  # the user's message in the checkpoint (None in logs from before ids)
    message_ts: float | None = None
    answer_id: str | None = None
    answer_ts: float | None = None


class ConversationLog(SqliteStore):
    """Threads and finished turns in SQLite; safe to share between threads."""

    COMPONENT = "conversations"
    MIGRATIONS = MIGRATIONS

    def touch_thread(self, thread_id: str, title: str | None = None) -> None:
        """Create the thread if new, and mark it as just used."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO threads (thread_id, title) VALUES (?, ?) ON CONFLICT(thread_id) DO UPDATE"
                " SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
                " title = COALESCE(threads.title, excluded.title)",
                (thread_id, title),
            )

    def record_turn(self, turn: TurnRecord) -> None:
        title = turn.user_input.strip().splitlines()[0][:60] if turn.user_input.strip() else None
        self.touch_thread(turn.thread_id, title)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO conversations (thread_id, user_input, response, intent, model_used, processing_ms,"
                " extensions_used, memories_used, errors, created_at, message_id, message_ts, answer_id, answer_ts)"
                " VALUES (?,?,?,?,?,?,?,?,?, COALESCE(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),?,?,?,?)",
                (
                    turn.thread_id,
                    turn.user_input,
                    turn.response,
                    turn.intent,
                    turn.model_used,
                    turn.processing_ms,
                    json.dumps(list(turn.extensions_used)),
                    json.dumps(list(turn.memories_used)),
                    json.dumps(list(turn.errors)),
                    turn.created_at,
                    turn.message_id,
                    turn.message_ts,
                    turn.answer_id,
                    turn.answer_ts,
                ),
            )

    def describe(
        self,
        thread_id: str,
        *,
        title: str | None = None,
        status: str | None = None,
        tags: list[str] | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> None:
        """Set a thread's title, status, tags or times (what is None is left as it is)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        self.touch_thread(thread_id)
        with self._tx() as conn:
            conn.execute(
                "UPDATE threads SET title = COALESCE(?, title), status = COALESCE(?, status),"
                " tags = COALESCE(?, tags), created_at = COALESCE(?, created_at),"
                " updated_at = COALESCE(?, updated_at) WHERE thread_id = ?",
                (
                    title,
                    status,
                    json.dumps(sorted(set(tags))) if tags is not None else None,
                    created_at,
                    updated_at,
                    thread_id,
                ),
            )

    def thread(self, thread_id: str) -> ThreadSummary | None:
        return next((t for t in self.threads() if t.thread_id == thread_id), None)

    def search(self, text: str, limit: int = 50) -> list[TurnRecord]:
        """Turns whose message or answer contains `text` (case-insensitive), newest first."""
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._query(
            "SELECT * FROM conversations WHERE user_input LIKE ? ESCAPE '\\' OR response LIKE ? ESCAPE '\\'"
            " ORDER BY id DESC LIMIT ?",
            (pattern, pattern, limit),
        )
        return [_turn(r) for r in rows]

    def retrieved_counts(self, limit: int = 10) -> list[tuple[str, int]]:
        """The memories (and past exchanges) answers saw most often: (id, turns), most first."""
        rows = self._query(
            "SELECT value AS id, COUNT(*) AS n FROM conversations, json_each(conversations.memories_used)"
            " GROUP BY value ORDER BY n DESC, value LIMIT ?",
            (limit,),
        )
        return [(str(r["id"]), int(r["n"])) for r in rows]

    def delete_thread(self, thread_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM conversations WHERE thread_id = ?", (thread_id,))
            conn.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))

    def threads(self) -> list[ThreadSummary]:
        rows = self._query(
            "SELECT t.*, (SELECT COUNT(*) FROM conversations c WHERE c.thread_id = t.thread_id)"
            " AS turns FROM threads t ORDER BY t.updated_at DESC"
        )
        return [
            ThreadSummary(
                r["thread_id"],
                r["title"],
                r["status"],
                r["turns"],
                r["created_at"],
                r["updated_at"],
                tuple(json.loads(r["tags"])),
            )
            for r in rows
        ]

    def turns(self, thread_id: str, latest: int | None = None) -> list[TurnRecord]:
        """The thread's turns, oldest first; with `latest`, only the last ones (read by index, not scanned)."""
        if latest is None:
            rows = self._query("SELECT * FROM conversations WHERE thread_id = ? ORDER BY id", (thread_id,))
        else:
            rows = self._query(
                "SELECT * FROM conversations WHERE thread_id = ? ORDER BY id DESC LIMIT ?", (thread_id, latest)
            )[::-1]
        return [_turn(r) for r in rows]

    def backfill_ids(self, thread_id: str, exchanges: list[tuple[Any, Any]]) -> int:
        """Give rows from before message ids the ids of the checkpoint's messages, matched in order
        by their text (`exchanges`: (question, answer) message pairs, oldest first). Return rows updated."""
        rows = self._query(
            "SELECT id, user_input, response FROM conversations WHERE thread_id = ? AND message_id IS NULL ORDER BY id",
            (thread_id,),
        )
        updates, pairs = [], iter(exchanges)
        for row in rows:
            for question, answer in pairs:
                if question.text == row["user_input"]:
                    matched = answer is not None and answer.text == row["response"]
                    updates.append((
                        question.id, question.additional_kwargs.get("ts"),
                        answer.id if matched else None, answer.additional_kwargs.get("ts") if matched else None,
                        row["id"],
                    ))  # fmt: skip
                    break
        with self._tx() as conn:
            conn.executemany(
                "UPDATE conversations SET message_id = ?, message_ts = ?, answer_id = ?, answer_ts = ? WHERE id = ?",
                updates,
            )
        return len(updates)

    def logged_ids(self, thread_id: str, ids: list[str]) -> set[str]:
        """Which of `ids` (message ids) the log holds for the thread."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._query(
            f"SELECT message_id, answer_id FROM conversations WHERE thread_id = ?"
            f" AND (message_id IN ({marks}) OR answer_id IN ({marks}))",
            (thread_id, *ids, *ids),
        )
        return {i for r in rows for i in (r["message_id"], r["answer_id"]) if i} & set(ids)


def _turn(r: sqlite3.Row) -> TurnRecord:
    return TurnRecord(
        thread_id=r["thread_id"],
        user_input=r["user_input"],
        response=r["response"],
        intent=r["intent"],
        model_used=r["model_used"],
        processing_ms=r["processing_ms"],
        extensions_used=tuple(json.loads(r["extensions_used"])),
        memories_used=tuple(json.loads(r["memories_used"])),
        errors=tuple(json.loads(r["errors"])),
        created_at=r["created_at"],
        message_id=r["message_id"],
        message_ts=r["message_ts"],
        answer_id=r["answer_id"],
        answer_ts=r["answer_ts"],
    )
