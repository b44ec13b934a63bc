"""Newer statements move up among close matches; the set of results never changes."""

from memory.store import MemoryRecord, prefer_recent


def record(memory_id: str, score: float, when: str | None) -> MemoryRecord:
    return MemoryRecord(id=memory_id, text=memory_id, score=score, created_at=when, updated_at=when)


def test_newer_restatement_moves_above_a_slightly_closer_old_one() -> None:
    old = record("vegan", 0.46, "2026-01-27")
    new = record("vegetarian", 0.40, "2026-02-24")
    assert [r.id for r in prefer_recent([old, new], weight=0.2)] == ["vegetarian", "vegan"]


def test_a_much_closer_old_memory_keeps_its_place() -> None:
    old = record("sister in Porto", 0.80, "2026-01-01")
    new = record("weather chat", 0.30, "2026-03-01")
    assert [r.id for r in prefer_recent([old, new], weight=0.2)] == ["sister in Porto", "weather chat"]


def test_weight_zero_or_missing_dates_keep_similarity_order() -> None:
    records = [record("a", 0.5, "2026-01-01"), record("b", 0.4, "2026-02-01"), record("c", 0.3, None)]
    assert prefer_recent(records, weight=0) == records
    undated = [record("a", 0.5, None), record("b", 0.4, None)]
    assert prefer_recent(undated, weight=0.5) == undated


def test_only_the_order_changes() -> None:
    records = [record(str(i), 1 - i / 10, f"2026-01-{i + 1:02d}") for i in range(5)]
    assert sorted(r.id for r in prefer_recent(records, weight=1.0)) == sorted(r.id for r in records)
