"""mem0's vector-store seam, served by Qdrant: the embedded edge engine by default, a server by config.

mem0 builds its stores through `VectorStoreFactory` from the provider name `qdrant`. We point
that name at `SenaQdrant`, which keeps mem0's own qdrant-client store for a Qdrant server
(`memory.qdrant.url`) and otherwise runs Qdrant Edge (`qdrant-edge-py`) in-process on
`data/memory/qdrant/<collection>`: filtered search in about a millisecond at 10k memories,
where qdrant-client's local mode takes hundreds.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mem0.vector_stores.base import VectorStoreBase

log = logging.getLogger(__name__)

INDEXED_FIELDS = ("user_id", "agent_id", "run_id", "actor_id", "kind")
MIN_CANDIDATES = 20
OPTIMIZE_AFTER = 1000
"""Points written since the last optimisation that trigger one (the edge engine has no background optimiser)."""


@dataclass
class Hit:
    """The shape mem0 reads from a store: `.id`, `.score`, `.payload`."""

    id: str
    score: float
    payload: dict[str, Any]


def _condition(key: str, value: Any) -> Any:
    from qdrant_edge import FieldCondition, MatchAny, MatchExcept, MatchValue

    if isinstance(value, list):
        return FieldCondition(key=key, match=MatchAny(any=value))
    if isinstance(value, dict):
        if "eq" in value:
            return FieldCondition(key=key, match=MatchValue(value["eq"]))
        if "in" in value:
            return FieldCondition(key=key, match=MatchAny(any=value["in"]))
        if "ne" in value:
            return FieldCondition(key=key, match=MatchExcept(except_=[value["ne"]]))
        if "nin" in value:
            return FieldCondition(key=key, match=MatchExcept(except_=value["nin"]))
        raise ValueError(f"unsupported filter on {key!r}: {value!r}")
    if key in ("AND", "OR", "NOT"):
        raise ValueError("logical filter groups are not supported by the embedded store")
    return FieldCondition(key=key, match=MatchValue(value))


def build_filter(filters: dict[str, Any] | None) -> Any:
    from qdrant_edge import Filter

    if not filters:
        return None
    return Filter(must=[_condition(k, v) for k, v in filters.items() if v is not None and v != "*"])


class EdgeCollection(VectorStoreBase):
    """One mem0 collection in a Qdrant Edge shard on disk (one process at a time per directory)."""

    def __init__(self, path: Path, collection_name: str, dims: int) -> None:
        self.path = path / collection_name
        self.collection_name = collection_name
        self.dims = dims
        self._lock = threading.Lock()
        self._closed = False
        self.shard = self._open()
        self._unoptimized = 0
        self.optimize()  # quick when already optimal; builds the HNSW index left over from a last run

    def _open(self) -> Any:
        from qdrant_edge import Distance, EdgeConfig, EdgeShard, EdgeVectorParams, PayloadSchemaType, UpdateOperation

        config = EdgeConfig(vectors=EdgeVectorParams(size=self.dims, distance=Distance.Cosine))
        if (self.path / "edge_config.json").exists() or any(self.path.glob("segments*")):
            return EdgeShard.load(str(self.path))
        self.path.mkdir(parents=True, exist_ok=True)
        shard = EdgeShard.create(str(self.path), config)
        for name in INDEXED_FIELDS:
            shard.update(UpdateOperation.create_field_index(name, PayloadSchemaType.Keyword))
        return shard

    # mem0's VectorStoreBase -------------------------------------------------------------

    def create_col(self, name: str, vector_size: int, distance: Any = None) -> None:
        return None  # created on open

    def insert(
        self, vectors: list[list[float]], payloads: list[dict[str, Any]] | None = None, ids: list[str] | None = None
    ) -> None:
        from qdrant_edge import Point, UpdateOperation

        payloads = payloads or [{} for _ in vectors]
        ids = ids or [str(uuid.uuid4()) for _ in vectors]
        points = [Point(id=i, vector=list(v), payload=p) for i, v, p in zip(ids, vectors, payloads, strict=True)]
        with self._lock:
            self.shard.update(UpdateOperation.upsert_points(points))
            self._unoptimized += len(points)
        if self._unoptimized >= OPTIMIZE_AFTER:
            self.optimize()

    def optimize(self) -> None:
        """Merge segments and build the HNSW index: at 10k memories a query drops from ~1.1 to ~0.5 ms."""
        with self._lock:
            self.shard.optimize()
            self._unoptimized = 0

    def search(
        self, query: str, vectors: list[float], top_k: int = 5, filters: dict[str, Any] | None = None
    ) -> list[Hit]:
        from qdrant_edge import Query, QueryRequest

        # mem0 asks for max(4 x limit, 60) candidates so BM25 and entity boosts can rescore them.
        # This store offers neither, so mem0 ranks by similarity alone and reads only the first
        # `limit`: fetching at least top_k / 4 (and 20) returns the same results, faster.
        limit = min(top_k, max(MIN_CANDIDATES, top_k // 4))
        request = QueryRequest(
            limit=limit, query=Query.Nearest(list(vectors)), filter=build_filter(filters), with_payload=True
        )
        with self._lock:
            points = self.shard.query(request)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in points]

    def delete(self, vector_id: str) -> None:
        from qdrant_edge import UpdateOperation

        with self._lock:
            self.shard.update(UpdateOperation.delete_points([vector_id]))

    def update(self, vector_id: str, vector: list[float] | None = None, payload: dict[str, Any] | None = None) -> None:
        from qdrant_edge import Point, UpdateOperation

        with self._lock:
            [current] = self.shard.retrieve([vector_id], with_payload=True, with_vector=True) or [None]
            if current is None:
                raise KeyError(vector_id)
            new_vector = list(vector) if vector is not None else current.vector
            new_payload = payload if payload is not None else dict(current.payload or {})
            self.shard.update(
                UpdateOperation.upsert_points([Point(id=vector_id, vector=new_vector, payload=new_payload)])
            )

    def get(self, vector_id: str) -> Hit | None:
        with self._lock:
            records = self.shard.retrieve([vector_id], with_payload=True, with_vector=False)
        if not records:
            return None
        return Hit(str(records[0].id), 1.0, dict(records[0].payload or {}))

    def list_cols(self) -> list[str]:
        return [self.collection_name]

    def delete_col(self) -> None:
        from qdrant_edge import Filter, UpdateOperation

        with self._lock:
            self.shard.update(UpdateOperation.delete_points_by_filter(Filter(must=[])))

    def col_info(self) -> dict[str, Any]:
        info = self.shard.info()
        return {"name": self.collection_name, "points": info.points_count}

    def list(self, filters: dict[str, Any] | None = None, top_k: int | None = 100) -> list[list[Hit]]:
        from qdrant_edge import ScrollRequest

        rows: list[Hit] = []
        offset = None
        limit = top_k or 10_000
        with self._lock:
            while len(rows) < limit:
                records, offset = self.shard.scroll(
                    ScrollRequest(
                        offset=offset,
                        limit=min(256, limit - len(rows)),
                        filter=build_filter(filters),
                        with_payload=True,
                        with_vector=False,
                    )
                )
                rows.extend(Hit(str(r.id), 1.0, dict(r.payload or {})) for r in records)
                if offset is None or not records:
                    break
        return [rows]

    def reset(self) -> None:
        self.delete_col()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.shard.flush()
            self.shard.close()


class SenaQdrant:
    """mem0's `qdrant` provider: a Qdrant server when `url` is set, else an embedded edge shard.

    mem0 passes the validated `QdrantConfig` as keyword arguments.
    """

    def __new__(cls, **config: Any) -> Any:
        if config.get("url") or config.get("host") or config.get("client"):
            from mem0.vector_stores.qdrant import Qdrant

            return Qdrant(**config)
        return EdgeCollection(Path(config["path"]), config["collection_name"], config["embedding_model_dims"])


def install() -> None:
    """Point mem0's `qdrant` provider at `SenaQdrant` (idempotent)."""
    from mem0.utils.factory import VectorStoreFactory

    VectorStoreFactory.provider_to_class["qdrant"] = f"{__name__}.SenaQdrant"
