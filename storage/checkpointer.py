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

from config.settings import Settings
from ops.errors import ConfigError, DatabaseError

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
