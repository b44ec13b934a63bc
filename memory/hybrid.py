"""Hybrid ranking: dense similarity and keyword (BM25) rankings fused by reciprocal rank.

Reciprocal rank fusion (Cormack et al., 2009) adds 1 / (k + rank) over the rankings an item is
in; it needs no score calibration between cosine and BM25, and k = 60 is the published default
(not tuned here). A question that names a period ("last month") adds a ranking of the
candidates dated inside it, by similarity; one that asks about an attribute ("what am I called?",
"where do I work now?") adds the candidates learned with that attribute, by similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from memory.dates import Period

RRF_K = 60


@dataclass
class Candidate:
    id: str
    similarity: float | None = None  # cosine to the query, when the dense search saw it
    keyword_rank: int | None = None
    start: date | None = None  # the period the item is about (or when it was said)
    end: date | None = None
    said: float | None = None  # when it was stored or last changed (a timestamp)
    fused: float = 0.0


def fuse(rankings: Sequence[Sequence[str]], weights: Sequence[float], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal-rank-fusion score of every id in any ranking."""
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank + 1)
    return scores


def rank(
    candidates: dict[str, Candidate],
    dense: list[str],
    keyword: list[str],
    period: Period | None,
    keyword_weight: float = 1.0,
    recency_weight: float = 0.0,
    attributed: Sequence[str] = (),
) -> list[str]:
    """Candidate ids, best first, by fused rank; each candidate's `fused` is set, scaled to 0..1.

    `keyword_weight` scales the keyword ranking against the dense one (and the period's);
    `recency_weight` adds the candidates ranked newest first, so that of two close matches
    the later statement ("I'm vegetarian now") comes first; `attributed` are the candidates with
    the attribute the question asks about.
    """
    rankings, weights = [dense, keyword], [1.0, keyword_weight]
    if recency_weight:
        fused = set(dense) | set(keyword)
        dated = [c for c in candidates.values() if c.id in fused and c.said is not None]
        rankings.append([c.id for c in sorted(dated, key=lambda c: c.said or 0.0, reverse=True)])
        weights.append(recency_weight)
    if period is not None:
        inside = [
            c
            for c in candidates.values()
            if c.start is not None and c.start <= period.end and (c.end or c.start) >= period.start
        ]
        rankings.append([c.id for c in sorted(inside, key=lambda c: -(c.similarity or 0.0))])
        weights.append(1.0)
    if asked := [i for i in attributed if i in candidates]:
        rankings.append(sorted(asked, key=lambda i: -(candidates[i].similarity or 0.0)))
        weights.append(1.0)
    scores = fuse(rankings, weights)
    best = sum(w / (RRF_K + 1) for ranking, w in zip(rankings, weights, strict=True) if ranking) or 1.0
    for item, score in scores.items():
        candidates[item].fused = score / best
    return sorted(scores, key=lambda item: scores[item], reverse=True)


def select(
    candidates: dict[str, Candidate],
    dense: list[str],
    keyword: list[str],
    period: Period | None,
    threshold: float,
    keyword_weight: float,
    recency_weight: float,
    limit: int,
    attributed: Sequence[str] = (),
) -> list[str]:
    """The ids a search returns, best first: `dense` (the ids similar enough, in order), the
    `keyword` hits and the `attributed` ones fused by `rank`; a candidate is kept when its
    similarity reaches `threshold`, when it has the attribute asked about, or, when keywords
    count at all, when it is a keyword hit."""
    for position, item in enumerate(keyword):
        if item in candidates:
            candidates[item].keyword_rank = position
    hits = [i for i in keyword if i in candidates]
    order = rank(candidates, dense, hits, period, keyword_weight, recency_weight, attributed)
    by_keyword, asked = keyword_weight > 0, set(attributed)
    kept = [
        i
        for i in order
        if (candidates[i].similarity or 0.0) >= threshold
        or i in asked
        or (by_keyword and candidates[i].keyword_rank is not None)
    ]
    return kept[:limit]
