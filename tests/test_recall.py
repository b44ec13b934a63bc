"""Recall's parts: relative dates made absolute, the keyword index, and the fused ranking."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from memory.dates import absolute, period_in
from memory.hybrid import Candidate, fuse, rank
from memory.lexical import LexicalIndex, keywords

THURSDAY = datetime(2026, 3, 5, 18, 40)  # Thursday 5 March 2026


@pytest.mark.parametrize(
    ("said", "becomes", "start", "end"),
    [
        ("My sister visits next week", "My sister visits in the week of 9 March 2026", "2026-03-09", "2026-03-15"),
        ("I moved last month", "I moved in February 2026", "2026-02-01", "2026-02-28"),
        ("my exam is tomorrow", "my exam is on 6 March 2026", "2026-03-06", "2026-03-06"),
        ("the party is next Friday", "the party is on 13 March 2026", "2026-03-13", "2026-03-13"),
        ("last friday was fun", "on 27 February 2026 was fun", "2026-02-27", "2026-02-27"),
        ("the day before yesterday I ran 10k", "on 3 March 2026 I ran 10k", "2026-03-03", "2026-03-03"),
        ("the wedding is in May", "the wedding is in May", "2026-05-01", "2026-05-31"),  # the nearest May
        ("we met in November", "we met in November", "2025-11-01", "2025-11-30"),
        ("we moved here last March", "we moved here in March 2025", "2025-03-01", "2025-03-31"),
        ("I was in Rome last summer", "I was in Rome in summer 2025", "2025-06-01", "2025-08-31"),
        ("her party is ten days from now", "her party is on 15 March 2026", "2026-03-15", "2026-03-15"),
        ("surgery is this coming Tuesday", "surgery is on 10 March 2026", "2026-03-10", "2026-03-10"),
        ("a trip in autumn 2027", "a trip in autumn 2027", "2027-09-01", "2027-11-30"),  # already absolute
        ("in the winter of 2026-2027", "in the winter of 2026-2027", "2026-12-01", "2027-02-28"),
        ("I drive down two weeks from today", "I drive down around 19 March 2026", "2026-03-17", "2026-03-21"),
    ],
)
def test_relative_dates_become_absolute(said: str, becomes: str, start: str, end: str) -> None:
    text, period = absolute(said, THURSDAY)
    assert text == becomes
    assert period is not None and (period.start.isoformat(), period.end.isoformat()) == (start, end)


@pytest.mark.parametrize(
    "said",
    [
        "I fall asleep late",
        "spring rolls are my favourite",
        "you may be right",
        "I swim on Wednesday mornings",  # every week, not one date
        "choir is on Mondays",
    ],
)
def test_words_that_only_look_like_dates_stay(said: str) -> None:
    assert absolute(said, THURSDAY) == (said, None)


def test_a_question_names_a_past_period() -> None:
    last_month = period_in("what did I get up to last month?", THURSDAY)
    assert last_month is not None and (last_month.start, last_month.end) == (date(2026, 2, 1), date(2026, 2, 28))
    march = period_in("what did I say in March?", THURSDAY)
    assert march is not None and march.start == date(2026, 3, 1)
    assert period_in("who is my sister?", THURSDAY) is None


def test_keyword_index_matches_topic_words_for_one_user_and_source(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "lexical.db")
    index.add(
        [
            ("a", "My sister Lena lives in Porto", "u1", "fact", 0.0),
            ("b", "I adopted a cat named Miso", "u1", "fact", 0.0),
            ("c", "Lena is a nurse", "u2", "fact", 0.0),
            ("d", "User: where does Lena live?\nSena: Porto", "u1", "exchange", 0.0),
        ]
    )
    assert [i for i, _ in index.search("where does lena live", "u1", "fact")] == ["a"]  # stemmed "lives"
    assert index.search("what do you remember about me", "u1", "fact") == []  # no topic word
    index.update("a", "My sister Lena lives in Lyon")
    assert [i for i, _ in index.search("Lyon", "u1", "fact")] == ["a"]
    index.delete("b")
    assert index.search("cat Miso", "u1", "fact") == []
    assert index.count("exchange") == 1
    assert keywords('What did "I" say about Porto, Porto?') == ["porto"]
    index.close()


def test_fusion_is_weighted_reciprocal_rank() -> None:
    scores = fuse([["a", "b"], ["c", "b"]], [1.0, 0.2], k=60)
    assert scores == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 0.2 / 62, "c": 0.2 / 61})
    assert max(scores, key=lambda i: scores[i]) == "b"  # found by both
    assert fuse([["a", "b"], ["c", "b"]], [1.0, 0.0])["c"] == 0.0  # a ranking of weight 0 adds nothing


def test_the_period_ranking_moves_memories_of_that_time_up_and_recency_breaks_ties() -> None:
    def candidates() -> dict[str, Candidate]:
        return {
            "old": Candidate("old", 0.61, None, date(2026, 1, 10), date(2026, 1, 10), said=1.0),
            "feb": Candidate("feb", 0.58, None, date(2026, 2, 12), date(2026, 2, 12), said=2.0),
            "new": Candidate("new", 0.60, None, date(2026, 3, 1), date(2026, 3, 1), said=3.0),
        }

    dense = ["old", "new", "feb"]
    assert rank(candidates(), dense, [], None) == dense
    february = period_in("what happened last month", THURSDAY)
    assert rank(candidates(), dense, [], february)[0] == "feb"
    tied = rank(candidates(), ["old"], ["new"], None, keyword_weight=1.0)
    assert tied[0] == "old"  # a tie goes to the first ranking...
    newer = rank(candidates(), ["old"], ["new"], None, keyword_weight=1.0, recency_weight=0.3)
    assert newer[0] == "new"  # ...or, with recency, to the newer
