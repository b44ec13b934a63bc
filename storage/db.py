"""SQLite connections with WAL and numbered migrations recorded in `schema_migrations`."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def connect(path: Path) -> sqlite3.Connection:
    """Open `path` for use from several threads (callers serialise writes) with WAL enabled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


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
            conn.execute("ROLLBACK")
            raise
        current = version
    return current
