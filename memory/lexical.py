"""Keyword search beside the vectors: SQLite FTS5 (BM25) over memories and past exchanges.

Dense vectors find paraphrases ("my little girl" for "daughter"); they miss rare exact words
(names, places, product models) that keyword search gets at once. Retrieval fuses both
rankings (memory/hybrid.py). The index lives in `data/memory/lexical.db`, one row per memory
or exchange, written beside every vector-store write; a store that predates it is backfilled
on open. With a Qdrant server (`memory.qdrant.url`) it still lives locally: each process
that writes memory keeps it, which is one process per data folder.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS entries USING fts5(
    text, id UNINDEXED, user_id UNINDEXED, source UNINDEXED, ts UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
"""

STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does doing for from had has have having he her "
    "hers him his how i i'd i'm i've if in into is it it's its just me my myself no not now of on or our "
    "ours she so some such than that the their theirs them then there these they this those to too up "
    "us very was we were what when where which while who whom why will with would you your yours "
    "again ever about tell told say said remember recall know".split()
)
"""Words that carry no topic; a question made only of them has no keyword match at all."""


def keywords(text: str) -> list[str]:
    """The query's topic words, lower-case, each at most once, in order."""
    seen: dict[str, None] = {}
    for word in re.findall(r"[^\W_]+", text.lower()):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


class LexicalIndex:
    """An FTS5 table of (text, id, user, source, time); safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def add(self, rows: Iterable[tuple[str, str, str, str, float]]) -> None:
        """Index `(id, text, user_id, source, ts)` rows (an id indexed again is replaced)."""
        rows = list(rows)
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM entries WHERE id = ?", [(r[0],) for r in rows])
            self._db.executemany("INSERT INTO entries (id, text, user_id, source, ts) VALUES (?, ?, ?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def update(self, entry_id: str, text: str) -> None:
        with self._lock:
            self._db.execute("UPDATE entries SET text = ? WHERE id = ?", (text, entry_id))

    def delete(self, entry_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM entries WHERE id = ?", (entry_id,))

    def count(self, source: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM entries WHERE source = ?", (source,)).fetchone()[0])

    def search(self, query: str, user_id: str, source: str, limit: int = 20) -> list[tuple[str, float]]:
        """`(id, bm25)` of the entries sharing topic words with `query`, best first (higher is better)."""
        words = keywords(query)
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, bm25(entries) FROM entries WHERE entries MATCH ? AND user_id = ? AND source = ? "
                "ORDER BY bm25(entries) LIMIT ?",
                (match, user_id, source, limit),
            ).fetchall()
        return [(str(i), -float(score)) for i, score in rows]  # FTS5's bm25() is lower-is-better

    def close(self) -> None:
        with self._lock:
            self._db.close()
