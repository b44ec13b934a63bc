"""The conversation log: one row per finished turn, and the list of threads (sessions).

LangGraph's checkpoints hold the full state; this log is the human-sized summary that
`sena threads`, statistics and later the API read without unpacking checkpoints.
"""

from __future__ import annotations

import json
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
)


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    title: str | None
    status: str
    turns: int
    created_at: str
    updated_at: str


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
                "INSERT INTO conversations (thread_id, user_input, response, intent, model_used,"
                " processing_ms, extensions_used, memories_used, errors) VALUES (?,?,?,?,?,?,?,?,?)",
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
                ),
            )

    def threads(self) -> list[ThreadSummary]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT t.*, (SELECT COUNT(*) FROM conversations c WHERE c.thread_id = t.thread_id)"
                " AS turns FROM threads t ORDER BY t.updated_at DESC"
            ).fetchall()
        return [
            ThreadSummary(r["thread_id"], r["title"], r["status"], r["turns"], r["created_at"], r["updated_at"])
            for r in rows
        ]

    def turns(self, thread_id: str) -> list[TurnRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM conversations WHERE thread_id = ? ORDER BY id", (thread_id,)
            ).fetchall()
        return [
            TurnRecord(
                thread_id=r["thread_id"],
                user_input=r["user_input"],
                response=r["response"],
                intent=r["intent"],
                model_used=r["model_used"],
                processing_ms=r["processing_ms"],
                extensions_used=tuple(json.loads(r["extensions_used"])),
                memories_used=tuple(json.loads(r["memories_used"])),
                errors=tuple(json.loads(r["errors"])),
            )
            for r in rows
        ]
