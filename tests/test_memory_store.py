"""Long-term memory on the real stack: MiniLM ONNX embedder, mem0, Qdrant Edge on a temp dir."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from memory.embedder import DIMENSIONS, MiniLMEmbedder
from memory.store import MemoryNotFound, MemoryStore
from tests.fakes import ScriptedChatModel

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def test_embeddings_are_unit_vectors_that_rank_by_meaning(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed_array(["My sister Lena lives in Porto", "Where does Lena live?", "I like pizza"])
    assert vectors.shape == (3, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3


def test_add_search_update_delete_history_and_restart(
    settings: Settings, embedder: MiniLMEmbedder, tmp_path: Path
) -> None:
    store = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    lena = store.add("The user's sister Lena lives in Porto", "u1")
    store.add("The user likes green tea", "u1")
    store.add("Lena is someone else's cat", "u2")
    hits = store.search("where does Lena live?", "u1")
    assert hits[0].id == lena.id and hits[0].score > 0.5
    assert all(h.id != lena.id or h.text.endswith("Porto") for h in hits)
    assert {h.text for h in store.search("Lena", "u2")} == {"Lena is someone else's cat"}  # scoped by user

    store.update(lena.id, "The user's sister Lena lives in Lyon")
    assert [e["event"] for e in store.history(lena.id)] == ["ADD", "UPDATE"]
    assert store.search("where does Lena live?", "u1")[0].text.endswith("Lyon")
    store.close()

    reopened = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    assert {m.text for m in reopened.list("u1")} == {"The user's sister Lena lives in Lyon", "The user likes green tea"}
    reopened.delete(lena.id)
    assert [m.text for m in reopened.list("u1")] == ["The user likes green tea"]
    with pytest.raises(MemoryNotFound, match="sena memory list"):
        reopened.get(lena.id)
    with pytest.raises(MemoryNotFound):
        reopened.update("not-an-id", "x")
    reopened.close()
    assert (settings.data_dir / "memory" / "history.db").exists()
    assert os.environ["MEM0_TELEMETRY"] == "False"


def test_past_exchanges_are_found_by_topic_per_user_and_survive_restart(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    store = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    index = store.conversations
    index.add("u1", "t1", "Can you help me plan the Lisbon trip in May?", "Sure: three days, Alfama first...")
    index.add("u1", "t1", "What's a good sourdough hydration?", "Around 75% for a beginner loaf.")
    index.add("u2", "t9", "Plan my Lisbon trip", "Here is a plan for u2.")
    store.close()

    reopened = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    found = reopened.conversations.search("what did we discuss about my trip?", "u1")
    assert found and found[0].text.startswith("User: Can you help me plan the Lisbon trip")
    assert found[0].thread_id == "t1" and found[0].id
    assert all("u2" not in x.text for x in found)  # scoped by user
    [bread] = reopened.conversations.search("bread baking", "u1", limit=1)
    assert bread.text.startswith("User: What's a good sourdough")
    reopened.close()


def test_keywords_and_periods_join_the_ranking_and_older_stores_are_indexed(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    from datetime import datetime

    store = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    code = store.add("The wifi password at the cabin is XK42-ZEBRA", "u1")
    store.add("The user's sister Lena lives in Porto", "u1")
    [march] = store.bulk_add(["We went to a jazz concert"], "u1", [{"created_at": "2026-03-14T20:00:00+00:00"}])
    store.bulk_add(["We went to a jazz bar"], "u1", [{"created_at": "2026-01-10T20:00:00+00:00"}])
    assert store.search("XK42-ZEBRA", "u1", threshold=0.99) == []  # keywords off (the default): meaning only
    store.settings = settings.memory.model_copy(update={"keyword_weight": 1.0})
    assert [h.id for h in store.search("XK42-ZEBRA", "u1", threshold=0.99)] == [code.id]  # an exact word finds it
    asked = datetime(2026, 4, 2)
    assert store.search("what did we do last month?", "u1", threshold=0.0, now=asked)[0].id == march
    store.close()

    for name in ("lexical.db", "lexical.db-wal", "lexical.db-shm"):  # a store from before the keyword index
        (settings.data_dir / "memory" / name).unlink(missing_ok=True)
    store = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    assert store.lexical.count("fact") == 4 and store.lexical.count("exchange") == 0
    store.close()


def test_a_question_about_an_attribute_finds_the_memory_learned_with_it(
    settings: Settings, embedder: MiniLMEmbedder
) -> None:
    store = MemoryStore.open(settings.memory, settings.data_dir, ScriptedChatModel(), embedder)
    name = store.add("The user's name is Wilhelmina Okafor", "u1", metadata={"subject": "user", "attribute": "name"})
    for filler in ("The user called the plumber about the sink", "The user's phone is called Pixel", "The user bakes"):
        store.add(filler, "u1", metadata={"subject": "user", "attribute": "other"})
    store.add("The user's name is Bo", "u2", metadata={"subject": "user", "attribute": "name"})
    store.add("The user's name is Wilhelmina Okafor", "u3", metadata={"subject": "user", "attribute": "other"})
    question = "what am I called again?"
    assert store.search(question, "u3", threshold=0.5) == []  # by meaning alone it is too far...
    assert [h.id for h in store.search(question, "u1", limit=1, threshold=0.5)] == [name.id]  # ...the attribute
    assert all("Bo" not in h.text for h in store.search(question, "u1", threshold=0.0))  # never another user's
    store.close()
