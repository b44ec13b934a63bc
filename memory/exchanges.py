"""Past exchanges, searchable by meaning: "what did we discuss about the trip?".

Facts go to mem0 (memory/store.py); this is the other half of long-term memory: each
finished exchange (the user's message and Sena's answer) as one chunk in a Qdrant
collection through `langchain-qdrant`, sharing the MiniLM embedder. Embedded, it is
qdrant-client's local mode in `data/memory/conversations/` (fine for the few thousand
chunks one person produces); with `memory.qdrant.url` it is a collection on that server.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as date_type
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import MemorySettings
from memory.dates import period_in
from memory.embedder import DIMENSIONS, MiniLMEmbedder
from memory.hybrid import Candidate, select
from memory.lexical import LexicalIndex

if TYPE_CHECKING:
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

log = logging.getLogger(__name__)

MAX_CHUNK_CHARS = 1200


@dataclass(frozen=True)
class Exchange:
    id: str
    text: str
    score: float
    thread_id: str
    ts: float

    @property
    def day(self) -> date_type:
        return datetime.fromtimestamp(self.ts, UTC).date()

    @property
    def date(self) -> str:
        return self.day.isoformat()


def chunk(user_text: str, answer: str) -> str:
    """One exchange as stored: the user's words whole (up to the cap), then the answer."""
    text = f"User: {user_text.strip()}\nSena: {answer.strip()}"
    return text if len(text) <= MAX_CHUNK_CHARS else text[: MAX_CHUNK_CHARS - 1] + "…"


class ConversationIndex:
    """Exchanges per user in a `langchain-qdrant` vector store; safe to share between threads."""

    def __init__(
        self,
        store: QdrantVectorStore,
        client: QdrantClient,
        lexical: LexicalIndex,
        collection: str = "",
        keyword_weight: float = 0.0,
        recency_weight: float = 0.0,
    ) -> None:
        self._store = store
        self._client = client
        self._collection = collection or store.collection_name
        self.lexical = lexical
        self.keyword_weight = keyword_weight
        self.recency_weight = recency_weight
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, settings: MemorySettings, data_dir: Path, embedder: MiniLMEmbedder, lexical: LexicalIndex
    ) -> ConversationIndex:
        """Open (creating if needed) the collection; blocking, call off the event loop."""
        from langchain_qdrant import QdrantVectorStore
        from qdrant_client import QdrantClient, models

        if settings.qdrant.url:
            client = QdrantClient(url=settings.qdrant.url, api_key=settings.qdrant.api_key)
        else:
            client = QdrantClient(path=str(data_dir / "memory" / "conversations"))
        name = settings.conversations_collection
        if not client.collection_exists(name):
            client.create_collection(
                name, vectors_config=models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)
            )
            if settings.qdrant.url:  # local mode scans; a server wants the index for the user filter
                client.create_payload_index(name, "metadata.user_id", models.PayloadSchemaType.KEYWORD)
        store = QdrantVectorStore(client=client, collection_name=name, embedding=embedder)
        index = cls(store, client, lexical, name, settings.keyword_weight, settings.recency_weight)
        index.backfill_lexical()
        return index

    def backfill_lexical(self) -> int:
        """Index exchanges stored before the keyword index existed; return how many."""
        if self.lexical.count("exchange"):
            return 0
        rows, offset = [], None
        with self._lock:
            while True:
                points, offset = self._client.scroll(self._collection, limit=256, offset=offset, with_payload=True)
                for p in points:
                    payload, meta = p.payload or {}, (p.payload or {}).get("metadata") or {}
                    text = str(payload.get("page_content") or "")
                    rows.append((str(p.id), text, str(meta.get("user_id", "")), "exchange", float(meta.get("ts", 0.0))))
                if offset is None:
                    break
        if rows:
            self.lexical.add(rows)
            log.info("indexed %d existing exchanges for keyword search", len(rows))
        return len(rows)

    def add(self, user_id: str, thread_id: str, user_text: str, answer: str, ts: float | None = None) -> str:
        """Store one exchange; return its id."""
        point_id = str(uuid.uuid4())
        when = ts if ts is not None else time.time()
        metadata = {"user_id": user_id, "thread_id": thread_id, "ts": when}
        text = chunk(user_text, answer)
        with self._lock:
            self._store.add_texts([text], metadatas=[metadata], ids=[point_id])
        self.lexical.add([(point_id, text, user_id, "exchange", when)])
        return point_id

    def search(
        self, query: str, user_id: str, limit: int = 3, threshold: float = 0.3, now: float | None = None
    ) -> list[Exchange]:
        """The user's past exchanges that best answer `query`: dense and keyword rankings fused,
        plus those from the period the query names (relative to `now`), best first."""
        from qdrant_client import models

        only_user = models.Filter(
            must=[models.FieldCondition(key="metadata.user_id", match=models.MatchValue(value=user_id))]
        )
        wide = max(4 * limit, 20)
        with self._lock:
            dense = self._store.similarity_search_with_score(query, k=wide, filter=only_user)
        by_keyword = self.keyword_weight > 0  # a keyword hit counts only when keywords count at all
        keyword = self.lexical.search(query, user_id, "exchange", limit=wide) if by_keyword else []
        found = {
            str(doc.metadata.get("_id", "")): Exchange(
                id=str(doc.metadata.get("_id", "")),
                text=doc.page_content,
                score=float(score),
                thread_id=str(doc.metadata.get("thread_id", "")),
                ts=float(doc.metadata.get("ts", 0.0)),
            )
            for doc, score in dense
        }
        if missing := [i for i, _ in keyword if i not in found]:
            found.update(self._fetch(missing, query))
        candidates = {i: Candidate(i, x.score, None, x.day, x.day, x.ts) for i, x in found.items()}
        when = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
        chosen = select(
            candidates,
            [i for i, x in found.items() if x.score >= threshold],
            [i for i, _ in keyword],
            period_in(query, when),
            threshold,
            self.keyword_weight,
            self.recency_weight,
            limit,
        )
        return [found[i] for i in chosen]

    def _fetch(self, ids: list[str], query: str) -> dict[str, Exchange]:
        """Exchanges by id (keyword hits the dense search did not return), with their similarity."""
        import numpy as np

        with self._lock:
            points = self._client.retrieve(self._collection, ids, with_payload=True, with_vectors=True)
        assert self._store.embeddings is not None  # given at open
        query_vector = np.asarray(self._store.embeddings.embed_query(query), dtype=np.float32)
        out = {}
        for p in points:
            payload, meta = p.payload or {}, (p.payload or {}).get("metadata") or {}
            vector = np.asarray(p.vector if isinstance(p.vector, list) else [], dtype=np.float32)
            similarity = float(vector @ query_vector / (np.linalg.norm(vector) or 1.0)) if vector.size else 0.0
            out[str(p.id)] = Exchange(
                str(p.id), str(payload.get("page_content") or ""), similarity, str(meta.get("thread_id", "")),
                float(meta.get("ts", 0.0)),
            )  # fmt: skip
        return out

    def close(self) -> None:
        with self._lock:
            self._client.close()
