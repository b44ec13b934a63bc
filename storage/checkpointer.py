"""The checkpointer, chosen by `database.checkpointer`: SQLite in data/sena.db (the default), or
PostgreSQL (`database.postgres_url`) when several `sena serve` workers share conversations.

Everything else (graph, replay, fork, crash recovery) is the same over either: LangGraph's
checkpointer interface is the seam.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from config.errors import ConfigError, DatabaseError
from config.settings import Settings

log = logging.getLogger(__name__)

POSTGRES_HINT = (
    "Check database.postgres_url (SENA_DATABASE__POSTGRES_URL) and that PostgreSQL is running "
    "(`pg_isready -d URL`), or set database.checkpointer: sqlite to use the local file."
)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    database = settings.database
    if database.checkpointer == "sqlite":
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        settings.database_path.parent.mkdir(parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(settings.database_path)) as sqlite:
            await sqlite.conn.execute("PRAGMA synchronous=NORMAL")  # as storage/db.py: no fsync per checkpoint
            yield sqlite
        return
    if not database.postgres_url:
        raise ConfigError(
            "database.checkpointer is postgres but database.postgres_url is not set.",
            "Set SENA_DATABASE__POSTGRES_URL=postgresql://USER:PASSWORD@HOST:5432/DBNAME (or database.postgres_url).",
        )
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        database.postgres_url,
        min_size=1,
        max_size=database.pool_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=database.connect_timeout_s)
    except Exception as exc:
        await pool.close()
        raise DatabaseError(
            f"PostgreSQL at {redact(database.postgres_url)} is not reachable ({type(exc).__name__}: {exc}).",
            POSTGRES_HINT,
        ) from exc
    try:
        saver = AsyncPostgresSaver(pool)
        await saver.setup()  # LangGraph's own numbered migrations (checkpoint_migrations)
        log.info("checkpoints in PostgreSQL at %s", redact(database.postgres_url))
        yield saver
    finally:
        await pool.close()


CHAIN_SQLITE = """
WITH RECURSIVE chain(id, parent, meta) AS (
    SELECT checkpoint_id, parent_checkpoint_id, CAST(metadata AS TEXT) FROM checkpoints
    WHERE thread_id = ? AND checkpoint_ns = '' AND checkpoint_id =
        (SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '')
    UNION ALL
    SELECT c.checkpoint_id, c.parent_checkpoint_id, CAST(c.metadata AS TEXT) FROM checkpoints c
    JOIN chain ON c.thread_id = ? AND c.checkpoint_ns = '' AND c.checkpoint_id = chain.parent
)
SELECT COUNT(*) FROM chain
WHERE json_extract(meta, '$.source') = 'input' OR json_extract(meta, '$.sena_compacted') = 1
"""
CHAIN_POSTGRES = """
WITH RECURSIVE chain(id, parent, meta) AS (
    SELECT checkpoint_id, parent_checkpoint_id, metadata FROM checkpoints
    WHERE thread_id = %(t)s AND checkpoint_ns = '' AND checkpoint_id =
        (SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = %(t)s AND checkpoint_ns = '')
    UNION ALL
    SELECT c.checkpoint_id, c.parent_checkpoint_id, c.metadata FROM checkpoints c
    JOIN chain ON c.thread_id = %(t)s AND c.checkpoint_ns = '' AND c.checkpoint_id = chain.parent
)
SELECT COUNT(*) AS n FROM chain WHERE meta->>'source' = 'input' OR meta ? 'sena_compacted'
"""


async def count_turns_in_database(saver: Any, thread_id: str) -> int | None:
    """Count the turns on the thread's current branch with one query (no checkpoint is unpacked);
    None for a checkpointer without SQL (the caller walks the checkpoints instead)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    if isinstance(saver, AsyncSqliteSaver):
        await saver.setup()
        async with saver.lock, saver.conn.execute(CHAIN_SQLITE, (thread_id, thread_id, thread_id)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
    if isinstance(saver, AsyncPostgresSaver):
        from psycopg_pool import AsyncConnectionPool

        if isinstance(saver.conn, AsyncConnectionPool):
            async with saver.conn.connection() as conn:
                found = await (await conn.execute(CHAIN_POSTGRES, {"t": thread_id})).fetchone()
        else:
            async with saver.lock:
                found = await (await saver.conn.execute(CHAIN_POSTGRES, {"t": thread_id})).fetchone()
        return int(found["n"]) if found else 0
    return None
