"""Learned user topics: words a user keeps coming back to, counted per turn.

`decide_memory` reads them so that a message about something the user often talks about
("how should I train for the half marathon?") gets long-term retrieval even when no
phrase in it asks for memory. Counting is cheap and local: one row per (user, topic).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from storage.db import SqliteStore

MIGRATIONS = (
    """
    CREATE TABLE user_topics (
        user_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        mentions INTEGER NOT NULL DEFAULT 0,
        last_seen TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (user_id, topic)
    );
    CREATE INDEX user_topics_recent ON user_topics(user_id, last_seen)
    """,
)

STOPWORDS = frozenset(
    """
    about above after again against also always another anything around because been before being
    below between both could does doing done down during each else even ever every from further
    going gonna good great have having here hers herself himself into itself just know like little
    made make many maybe more most much must myself never next nice okay only other ours ourselves
    over please pretty quite really right same should since some something still such sure take tell
    than thank thanks that their theirs them themselves then there these they thing things think this
    those though through today tomorrow too under until very want well were what whatever when where
    whether which while who whom whose will with within without would yeah yes your yours yourself
    yourselves able days week weeks time times year years lots kind sort
    """.split()
)
WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


def topics_of(text: str) -> set[str]:
    """The content words of `text`, lower-cased, plurals folded ("marathons" -> "marathon")."""
    topics = set()
    for word in WORD.findall(text):
        word = word.lower().strip("'-")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        if len(word) >= 4 and word not in STOPWORDS:
            topics.add(word)
    return topics


@dataclass(frozen=True)
class Topic:
    topic: str
    mentions: int


class TopicStore(SqliteStore):
    """Per-user topic counts in SQLite; safe to share between threads."""

    COMPONENT = "topics"
    MIGRATIONS = MIGRATIONS

    def __init__(self, conn: sqlite3.Connection, max_topics: int = 500) -> None:
        super().__init__(conn)
        self.max_topics = max_topics

    def observe(self, user_id: str, text: str) -> None:
        """Count each topic of `text` once for this user; keep only the most recent `max_topics`."""
        topics = sorted(topics_of(text))
        if not topics:
            return
        with self._tx() as conn:
            conn.executemany(
                "INSERT INTO user_topics (user_id, topic, mentions) VALUES (?, ?, 1)"
                " ON CONFLICT(user_id, topic) DO UPDATE SET mentions = mentions + 1,"
                " last_seen = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                [(user_id, t) for t in topics],
            )
            conn.execute(
                "DELETE FROM user_topics WHERE user_id = ? AND topic NOT IN (SELECT topic FROM user_topics"
                " WHERE user_id = ? ORDER BY last_seen DESC LIMIT ?)",
                (user_id, user_id, self.max_topics),
            )

    def returning(self, user_id: str, text: str, min_mentions: int) -> list[Topic]:
        """The topics of `text` this user has mentioned in at least `min_mentions` earlier turns."""
        topics = sorted(topics_of(text))
        if not topics:
            return []
        marks = ",".join("?" * len(topics))
        rows = self._query(
            f"SELECT topic, mentions FROM user_topics WHERE user_id = ? AND topic IN ({marks})"
            " AND mentions >= ? ORDER BY mentions DESC, topic",
            (user_id, *topics, min_mentions),
        )
        return [Topic(r["topic"], r["mentions"]) for r in rows]

    def top(self, user_id: str, limit: int = 20) -> list[Topic]:
        rows = self._query(
            "SELECT topic, mentions FROM user_topics WHERE user_id = ? ORDER BY mentions DESC, topic LIMIT ?",
            (user_id, limit),
        )
        return [Topic(r["topic"], r["mentions"]) for r in rows]
