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
from pathlib import Path
from typing import TYPE_CHECKING

from config.settings import MemorySettings
from memory.embedder import DIMENSIONS, MiniLMEmbedder

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
    def date(self) -> str:
        return datetime.fromtimestamp(self.ts, UTC).date().isoformat()


def chunk(user_text: str, answer: str) -> str:
    """One exchange as stored: the user's words whole (up to the cap), then the answer."""
    text = f"User: {user_text.strip()}\nSena: {answer.strip()}"
    return text if len(text) <= MAX_CHUNK_CHARS else text[: MAX_CHUNK_CHARS - 1] + "…"


class ConversationIndex:
    """Exchanges per user in a `langchain-qdrant` vector store; safe to share between threads."""

    def __init__(self, store: QdrantVectorStore, client: QdrantClient) -> None:
        self._store = store
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: MemorySettings, data_dir: Path, embedder: MiniLMEmbedder) -> ConversationIndex:
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
        return cls(QdrantVectorStore(client=client, collection_name=name, embedding=embedder), client)

    def add(self, user_id: str, thread_id: str, user_text: str, answer: str, ts: float | None = None) -> str:
        """Store one exchange; return its id."""
        point_id = str(uuid.uuid4())
        metadata = {"user_id": user_id, "thread_id": thread_id, "ts": ts if ts is not None else time.time()}
        with self._lock:
            self._store.add_texts([chunk(user_text, answer)], metadatas=[metadata], ids=[point_id])
        return point_id

    def search(self, query: str, user_id: str, limit: int = 3, threshold: float = 0.3) -> list[Exchange]:
        """The user's past exchanges most similar to `query`, best first."""
        from qdrant_client import models

        only_user = models.Filter(
            must=[models.FieldCondition(key="metadata.user_id", match=models.MatchValue(value=user_id))]
        )
        with self._lock:
            found = self._store.similarity_search_with_score(
                query, k=limit, filter=only_user, score_threshold=threshold
            )
        return [
            Exchange(
                id=str(doc.metadata.get("_id", "")),
                text=doc.page_content,
                score=float(score),
                thread_id=str(doc.metadata.get("thread_id", "")),
                ts=float(doc.metadata.get("ts", 0.0)),
            )
            for doc, score in found
        ]

    def close(self) -> None:
        with self._lock:
            self._client.close()
