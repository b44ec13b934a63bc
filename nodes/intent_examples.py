"""Intent by likeness: a new message is compared with example messages per intent (MiniLM).

The examples are in `config/intent_examples.yaml`, so users can add their own phrasings. Each
intent scores its best-matching example's cosine similarity; the best intent wins when its
score reaches `intent_routing.examples_threshold` and beats the runner-up by
`intent_routing.examples_margin`. Otherwise the router model decides, as before. The examples
are embedded once, on first use (about a second for a few hundred on two cores).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from memory.embedder import MiniLMEmbedder


class ExampleIndex:
    """Example messages by intent, embedded lazily; safe to share between threads."""

    def __init__(self, examples: dict[str, list[str]], embedder: MiniLMEmbedder | None = None) -> None:
        self.examples = {intent: [e for e in texts if e.strip()] for intent, texts in examples.items()}
        self.embedder = embedder or MiniLMEmbedder()
        self._lock = threading.Lock()
        self._vectors: np.ndarray[Any, np.dtype[np.float32]] | None = None
        self._labels: list[str] = []

    def _index(self) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[str]]:
        with self._lock:
            if self._vectors is None:
                labels = [intent for intent, texts in self.examples.items() for _ in texts]
                texts = [text for values in self.examples.values() for text in values]
                self._vectors = self.embedder.embed_array(texts) if texts else np.zeros((0, 384), np.float32)
                self._labels = labels
            return self._vectors, self._labels

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Each intent's best similarity to `text`, best first."""
        vectors, labels = self._index()
        if not labels:
            return []
        similarities = vectors @ self.embedder.embed_array([text])[0]
        best: dict[str, float] = {}
        for label, similarity in zip(labels, similarities.tolist(), strict=True):
            best[label] = max(best.get(label, -1.0), similarity)
        return sorted(best.items(), key=lambda item: item[1], reverse=True)

    def decide(self, text: str, threshold: float, margin: float) -> tuple[str, float] | None:
        """The intent whose examples `text` resembles clearly enough, with its similarity; else None."""
        ranked = self.scores(text)
        if not ranked:
            return None
        (intent, score), runner_up = ranked[0], ranked[1][1] if len(ranked) > 1 else -1.0
        return (intent, score) if score >= threshold and score - runner_up >= margin else None
