"""The long-term memory service: mem0 over Qdrant, with our embedder and chat model.

`MemoryStore.open()` prepares mem0's environment (no telemetry, its files inside `data/`)
before mem0 is first imported, points mem0's Qdrant provider at the embedded edge engine
(or a server, by config), and gives the rest of Sena a small typed API: add, search, get,
update, delete, history, list. mem0 >= 2 adds without deciding updates; Sena decides
ADD / UPDATE / DELETE itself (memory/learnings.py) and calls these primitives.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from config.errors import MemoryStoreError
from config.settings import MemorySettings, Settings
from memory.asked import asked_attributes
from memory.dates import period_in
from memory.embedder import DIMENSIONS, MiniLMEmbedder
from memory.exchanges import ConversationIndex
from memory.hybrid import Candidate, select
from memory.lexical import LexicalIndex

if TYPE_CHECKING:
    from mem0 import Memory

log = logging.getLogger(__name__)


class MemoryNotFound(MemoryStoreError):
    def __init__(self, memory_id: str) -> None:
        super().__init__(f"No memory with id {memory_id!r}.", "`sena memory list` shows the ids.")
        self.memory_id = memory_id


class MemoryLocked(MemoryStoreError):
    """Another process holds the embedded store."""


@dataclass(frozen=True)
class MemoryRecord:
    id: str
    text: str
    score: float = 1.0
    kind: str = "fact"
    created_at: str | None = None
    updated_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def said_at(self) -> str:
        """When the user said it (the turn's local time, set by learning), else when it was written."""
        return str(self.metadata.get("said_at") or self.updated_at or self.created_at or "")


def prepare_mem0_environment(data_dir: Path) -> Path:
    """Keep mem0 offline and inside `data/`; must run before mem0 is first imported."""
    mem0_dir = data_dir / "memory" / "mem0"
    mem0_dir.mkdir(parents=True, exist_ok=True)
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(mem0_dir))
    # mem0 warns on every search that spaCy (its optional lemmatiser) is absent; we run without it.
    logging.getLogger("mem0").setLevel(logging.ERROR)
    return mem0_dir


def _lock_directory(directory: Path) -> IO[str]:
    """Hold an exclusive lock on the embedded store: one process may use it at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = (directory / ".lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise MemoryLocked(
            f"The memory store in {directory} is open in another Sena process (a chat or a server).",
            "`sena memory ...` and `sena chat` go through that process's API; or set memory.qdrant.url "
            "to share a Qdrant server between processes.",
        ) from None
    return handle


def memory_locked(settings: Settings) -> bool:
    """Tell whether another process holds the embedded memory store (without taking it)."""
    lock = settings.data_dir / "memory" / ".lock"
    if settings.memory.qdrant.url or not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _record(item: dict[str, Any]) -> MemoryRecord:
    metadata = dict(item.get("metadata") or {})
    return MemoryRecord(
        id=str(item["id"]),
        text=str(item.get("memory") or ""),
        score=float(item.get("score") or 1.0),
        kind=str(metadata.pop("kind", "fact")),
        created_at=item.get("created_at"),
        updated_at=item.get("updated_at"),
        metadata=metadata,
    )


def _payload_item(hit: Any) -> dict[str, Any]:
    """A vector-store hit in the shape mem0's own results have (what `_record` reads)."""
    payload = dict(hit.payload or {})
    metadata = {k: v for k, v in payload.items() if k not in CORE_PAYLOAD}
    return {
        "id": str(hit.id),
        "memory": payload.get("data", ""),
        "created_at": payload.get("created_at"),
        "updated_at": payload.get("updated_at"),
        "metadata": metadata,
    }


CORE_PAYLOAD = frozenset(
    {"data", "hash", "created_at", "updated_at", "user_id", "agent_id", "run_id", "actor_id", "role",
     "text_lemmatized", "attributed_to", "expiration_date"}
)  # fmt: skip


def _period_of(payload: dict[str, Any]) -> tuple[date | None, date | None]:
    """The days a memory is about: its event's period when learning found one, else when it was said."""
    try:
        if payload.get("period_start"):
            return date.fromisoformat(payload["period_start"]), date.fromisoformat(payload["period_end"])
        stamp = payload.get("said_at") or payload.get("created_at")
        day = datetime.fromisoformat(stamp).date() if stamp else None
    except (TypeError, ValueError):
        return None, None
    return day, day


def _said(payload: dict[str, Any]) -> float | None:
    """When the memory was last said: learning's `said_at` (the turn's time), else when written."""
    stamp = payload.get("said_at") or payload.get("updated_at") or payload.get("created_at")
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except (TypeError, ValueError):
        return None


def np_array(vector: list[float]) -> Any:
    import numpy as np

    return np.asarray(vector, dtype=np.float32)


class MemoryStore:
    """Facts about the user, searchable by meaning; one instance per process."""

    def __init__(
        self,
        memory: Memory,
        settings: MemorySettings,
        embedder: MiniLMEmbedder,
        conversations: ConversationIndex,
        lexical: LexicalIndex,
        lock_file: IO[str] | None = None,
    ) -> None:
        self._memory = memory
        self.settings = settings
        self.embedder = embedder
        self.lexical = lexical
        """Keyword index of the memories' text, fused with the vectors in `search`."""
        self.conversations = conversations
        """Past exchanges (user message + answer), for "what did we discuss" questions."""
        self._lock = threading.Lock()
        self._lock_file = lock_file

    @classmethod
    def open(
        cls, settings: MemorySettings, data_dir: Path, llm: BaseChatModel, embedder: MiniLMEmbedder | None = None
    ) -> MemoryStore:
        """Build mem0 with our embedder, chat model and Qdrant store (blocking: call off the loop)."""
        prepare_mem0_environment(data_dir)
        lock_file = None if settings.qdrant.url else _lock_directory(data_dir / "memory")
        from mem0 import Memory

        from memory.vector_store import install

        install()
        embedder = embedder or MiniLMEmbedder()
        qdrant = settings.qdrant
        store_config: dict[str, Any] = {
            "collection_name": settings.collection,
            "embedding_model_dims": DIMENSIONS,
            "path": str(data_dir / "memory" / "qdrant"),
            "on_disk": True,
        }
        if qdrant.url:
            store_config.update(url=qdrant.url, api_key=qdrant.api_key)
            store_config.pop("path")
        config = {
            "vector_store": {"provider": "qdrant", "config": store_config},
            "embedder": {"provider": "langchain", "config": {"model": embedder, "embedding_dims": DIMENSIONS}},
            "llm": {"provider": "langchain", "config": {"model": llm}},
            "history_db_path": str(data_dir / "memory" / "history.db"),
        }
        try:
            memory = Memory.from_config(config)
            lexical = LexicalIndex(data_dir / "memory" / "lexical.db")
            conversations = ConversationIndex.open(settings, data_dir, embedder, lexical)
        except BaseException:
            if lock_file is not None:
                lock_file.close()
            raise
        store = cls(memory, settings, embedder, conversations, lexical, lock_file)
        store.backfill_lexical()
        return store

    def backfill_lexical(self) -> int:
        """Index memories stored before the keyword index existed; return how many."""
        if self.lexical.count("fact"):
            return 0
        with self._lock:
            [hits] = self._memory.vector_store.list(filters=None, top_k=1_000_000)[:1] or [[]]
        rows = [
            (str(h.id), str(h.payload.get("data") or ""), str(h.payload.get("user_id") or ""), "fact", 0.0)
            for h in hits
            if h.payload.get("data")
        ]
        if rows:
            self.lexical.add(rows)
            log.info("indexed %d existing memories for keyword search", len(rows))
        return len(rows)

    def _filters(self, user_id: str) -> dict[str, Any]:
        return {"user_id": user_id}

    def add(self, text: str, user_id: str, kind: str = "fact", metadata: dict[str, Any] | None = None) -> MemoryRecord:
        """Store `text` as one memory, as given (no model call)."""
        with self._lock:
            result = self._memory.add(text, user_id=user_id, infer=False, metadata={**(metadata or {}), "kind": kind})
        [item] = [r for r in result["results"] if r.get("event") == "ADD"] or result["results"][:1]
        self.lexical.add([(str(item["id"]), text, user_id, "fact", time.time())])
        return self.get(str(item["id"]))

    def bulk_add(self, texts: list[str], user_id: str, metadatas: list[dict[str, Any]] | None = None) -> list[str]:
        """Embed and store many memories at once, as given (imports, benchmarks); no history rows.

        A metadata `created_at` (ISO 8601) dates a memory in the past, e.g. an imported conversation.
        """
        import hashlib

        vectors = self.embedder.embed_array(texts).tolist()
        now = datetime.now(UTC).isoformat()
        ids = [str(uuid.uuid4()) for _ in texts]
        payloads = []
        for i, text in enumerate(texts):
            extra = metadatas[i] if metadatas else {}
            stamp = extra.get("created_at", now)
            payloads.append(
                {
                    "data": text,
                    "hash": hashlib.md5(text.encode()).hexdigest(),
                    "created_at": stamp,
                    "updated_at": stamp,
                    "user_id": user_id,
                    "kind": "fact",
                    **extra,
                }
            )
        with self._lock:
            self._memory.vector_store.insert(vectors=vectors, payloads=payloads, ids=ids)
        self.lexical.add((i, text, user_id, "fact", 0.0) for i, text in zip(ids, texts, strict=True))
        return ids

    def search(
        self,
        query: str,
        user_id: str,
        limit: int | None = None,
        threshold: float | None = None,
        now: datetime | None = None,
    ) -> list[MemoryRecord]:
        """The memories that best answer `query`: dense and keyword rankings fused (memory/hybrid.py),
        plus the memories dated in the period the query names, if any (relative to `now`).

        A memory is returned when its similarity reaches the threshold, it shares a topic word
        with the query, or it was learned with an attribute the query asks about ("what am I
        called?": the name); newer ones move up among close matches. Each record's score is its
        cosine similarity to the query.
        """
        limit = limit or self.settings.search_limit
        threshold = self.settings.search_threshold if threshold is None else threshold
        vector = self.embedder.embed_query(query)
        with self._lock:
            dense = self._memory.vector_store.search(
                query=query, vectors=vector, top_k=max(4 * limit, 20), filters=self._filters(user_id)
            )
        by_keyword = self.settings.keyword_weight > 0  # a keyword hit counts only when keywords count at all
        keyword = self.lexical.search(query, user_id, "fact", limit=max(4 * limit, 20)) if by_keyword else []
        attributes = asked_attributes(query)
        if attributes:
            with self._lock:
                asked = self._memory.vector_store.search(
                    query=query,
                    vectors=vector,
                    top_k=limit,
                    filters={**self._filters(user_id), "attribute": {"in": attributes}},
                )
        else:
            asked = []
        hits = {str(h.id): h for h in [*dense, *asked]}
        missing = [i for i, _ in keyword if i not in hits]
        with self._lock:
            for item in missing:
                found = self._memory.vector_store.get(vector_id=item)
                if found is not None:
                    hits[item] = found
        similarities = {str(h.id): float(h.score) for h in [*dense, *asked]}
        if late := [i for i in missing if i in hits]:
            vectors = self.embedder.embed_array([str(hits[i].payload.get("data") or "") for i in late])
            similarities.update(zip(late, (vectors @ np_array(vector)).tolist(), strict=True))
        candidates = {
            i: Candidate(i, similarities.get(i), None, *_period_of(h.payload), said=_said(h.payload))
            for i, h in hits.items()
        }
        chosen = select(
            candidates,
            [str(h.id) for h in dense if float(h.score) >= threshold],
            [i for i, _ in keyword],
            period_in(query, now or datetime.now()),
            threshold,
            self.settings.keyword_weight,
            self.settings.recency_weight,
            limit,
            [str(h.id) for h in asked],
        )
        return [_record({**_payload_item(hits[i]), "score": round(similarities.get(i, 0.0), 4)}) for i in chosen]

    def nearest(self, vector: list[float], user_id: str, limit: int = 5) -> list[Any]:
        """Query the vector store alone, skipping mem0's scoring (for latency measurements)."""
        with self._lock:
            return list(
                self._memory.vector_store.search(query="", vectors=vector, top_k=limit, filters=self._filters(user_id))
            )

    def get(self, memory_id: str) -> MemoryRecord:
        try:
            uuid.UUID(memory_id)
        except ValueError:
            raise MemoryNotFound(memory_id) from None
        with self._lock:
            item = self._memory.get(memory_id)
        if not item:
            raise MemoryNotFound(memory_id)
        return _record(item)

    def update(self, memory_id: str, text: str, metadata: dict[str, Any] | None = None) -> MemoryRecord:
        """Replace a memory's text (the old one stays in its history); `metadata` keys are merged in."""
        self.get(memory_id)
        with self._lock:
            self._memory.update(memory_id, text=text, metadata=metadata)
        self.lexical.update(memory_id, text)
        return self.get(memory_id)

    def delete(self, memory_id: str) -> None:
        self.get(memory_id)
        with self._lock:
            self._memory.delete(memory_id)
        self.lexical.delete(memory_id)

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._memory.history(memory_id)
        if not rows:
            raise MemoryNotFound(memory_id)
        return [dict(r) for r in rows]

    def list(self, user_id: str, limit: int = 100) -> list[MemoryRecord]:
        with self._lock:
            result = self._memory.get_all(filters=self._filters(user_id), top_k=limit)
        return [_record(item) for item in result["results"]]

    def close(self) -> None:
        with self._lock:
            store = self._memory.vector_store
            if hasattr(store, "close"):
                store.close()
            self._memory.close()
            self.conversations.close()
            self.lexical.close()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
