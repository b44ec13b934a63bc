"""The extension registry in SQLite: what is installed, its status and its record.

Status is `active`, `inactive` (disabled by the user or after repeated failures; the choice
survives restarts and reloads) or `error` (did not validate or load; `last_error` says why).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from storage.db import SqliteStore

Status = Literal["active", "inactive", "error"]

MIGRATIONS = (
    """
    CREATE TABLE extensions (
        name TEXT PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'active',
        version TEXT,
        origin TEXT NOT NULL,
        file_path TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        last_loaded TEXT,
        executions INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        disabled INTEGER NOT NULL DEFAULT 0
    )
    """,
)


@dataclass(frozen=True)
class ExtensionRecord:
    name: str
    status: Status
    version: str | None
    origin: str
    file_path: str
    description: str
    last_loaded: str | None
    executions: int
    errors: int
    consecutive_failures: int
    last_error: str | None
    disabled: bool


class ExtensionRegistry(SqliteStore):
    """Rows of the `extensions` table; safe to share between threads."""

    COMPONENT = "extensions"
    MIGRATIONS = MIGRATIONS

    def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        with self._tx() as conn:
            conn.execute(sql, params)

    def loaded(self, name: str, version: str, origin: str, path: Path, description: str) -> ExtensionRecord:
        """Record a successful (re)load; a disabled extension stays disabled."""
        self._execute(
            "INSERT INTO extensions (name, status, version, origin, file_path, description, last_loaded)"
            " VALUES (?, 'active', ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
            " ON CONFLICT(name) DO UPDATE SET version = excluded.version, origin = excluded.origin,"
            " file_path = excluded.file_path, description = excluded.description,"
            " last_loaded = excluded.last_loaded, last_error = NULL, consecutive_failures = 0,"
            " status = CASE WHEN extensions.disabled THEN 'inactive' ELSE 'active' END",
            (name, version, origin, str(path), description),
        )
        return self.get(name)  # type: ignore[return-value]

    def failed_to_load(self, name: str, origin: str, path: Path, error: str) -> None:
        """Record a file that did not validate or load (an older version may still be running)."""
        self._execute(
            "INSERT INTO extensions (name, status, origin, file_path, last_error) VALUES (?, 'error', ?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET last_error = excluded.last_error,"
            " status = CASE WHEN extensions.last_loaded IS NULL THEN 'error' ELSE extensions.status END",
            (name, origin, str(path), error),
        )

    def removed(self, name: str) -> None:
        self._execute("DELETE FROM extensions WHERE name = ?", (name,))

    def ran(self, name: str, ok: bool, error: str | None = None) -> int:
        """Count an execution; return the consecutive failures so far."""
        if ok:
            self._execute(
                "UPDATE extensions SET executions = executions + 1, consecutive_failures = 0 WHERE name = ?", (name,)
            )
            return 0
        self._execute(
            "UPDATE extensions SET executions = executions + 1, errors = errors + 1,"
            " consecutive_failures = consecutive_failures + 1, last_error = ? WHERE name = ?",
            (error, name),
        )
        record = self.get(name)
        return record.consecutive_failures if record else 0

    def set_enabled(self, name: str, enabled: bool, reason: str | None = None) -> None:
        """Enable or disable (by the user, or after repeated failures); the choice survives restarts."""
        self._execute(
            "UPDATE extensions SET status = ?, disabled = ?, consecutive_failures = 0,"
            " last_error = COALESCE(?, last_error) WHERE name = ?",
            ("active" if enabled else "inactive", int(not enabled), reason, name),
        )

    def get(self, name: str) -> ExtensionRecord | None:
        rows = self._query("SELECT * FROM extensions WHERE name = ?", (name,))
        row = rows[0] if rows else None
        return _record(row) if row else None

    def all(self) -> list[ExtensionRecord]:
        rows = self._query("SELECT * FROM extensions ORDER BY origin, name")
        return [_record(r) for r in rows]


def _record(row: sqlite3.Row) -> ExtensionRecord:
    return ExtensionRecord(**{**dict(row), "disabled": bool(row["disabled"])})
