"""The memory benchmark's scoring, on a tiny hand-made benchmark (figures go in notes, not asserts)."""

from __future__ import annotations

from typing import Any

from bench.memory import bm25_ranker, old_turn, score_probes, threshold_sweep

BENCH: dict[str, Any] = {
    "users": [
        {
            "user_id": "u1",
            "sessions": [
                {
                    "turns": [
                        {"turn_id": "t1", "role": "user", "text": "I took up pottery on weekends."},
                        {"turn_id": "t2", "role": "assistant", "text": "Nice."},
                        {"turn_id": "t3", "role": "user", "text": "My brother Ugo lives in Graz."},
                    ]
                },
                {"turns": [{"turn_id": "t4", "role": "user", "text": "These days chess fills my weekends."}]},
            ],
            "probes": [
                {"question": "Where does Ugo live?", "evidence": ["t3"], "kind": "single_fact"},
                {
                    "question": "What do I do at weekends?",
                    "evidence": ["t4"],
                    "kind": "updated_fact",
                    "old_answer": "pottery",
                },
                {"question": "What is my boss called?", "evidence": [], "kind": "absent"},
            ],
        }
    ]
}


def test_scoring_counts_recall_updates_and_abstentions() -> None:
    def perfect(user_id: str, question: str) -> list[tuple[str, float]]:
        return {
            "Where does Ugo live?": [("t3", 0.9), ("t1", 0.2)],
            "What do I do at weekends?": [("t4", 0.8), ("t1", 0.7)],
        }.get(question, [("t1", 0.1)])

    report = score_probes(BENCH, perfect, threshold=0.3)
    assert report["recall_at_1"] == 1.0 and report["recall_at_5"] == 1.0
    assert report["updated_new_above_old"] == 1.0
    assert report["absent_false_hit_rate"] == 0.0
    assert old_turn(BENCH["users"][0], BENCH["users"][0]["probes"][1]) == "t1"


def test_bm25_baseline_ranks_keyword_matches() -> None:
    rank = bm25_ranker(BENCH)
    assert rank("u1", "Ugo Graz")[0][0] == "t3"


def test_threshold_sweep_trades_recall_for_abstention() -> None:
    def ranked(user_id: str, question: str) -> list[tuple[str, float]]:
        return {
            "Where does Ugo live?": [("t3", 0.45)],
            "What do I do at weekends?": [("t4", 0.35), ("t1", 0.3)],
        }.get(question, [("t1", 0.38)])

    low, high = threshold_sweep(BENCH, ranked, (0.3, 0.4))
    assert (low["recall_at_5"], low["absent_false_hit_rate"]) == (1.0, 1.0)
    assert (high["recall_at_5"], high["absent_false_hit_rate"]) == (0.5, 0.0)
