"""Classifying by example: a small classifier trained on labelled example texts (MiniLM vectors).

Two uses, each with its examples in `config/` so users can add their own phrasings:
- intents (`config/intent_examples.yaml`, about 90 messages per intent, from two writers who saw
  neither Sena's code nor its held-out routing set): `classify_intent` takes the best intent
  when it reaches `intent_routing.examples_threshold` and otherwise asks the router model to
  choose among the classifier's top candidates;
- remarks (`config/remark_examples.yaml`): whether something the user said about themselves is
  a lasting fact of their life or a passing remark about the moment ("I always mix these up"),
  which learning must not store (`RemarkFilter`).

On first use the examples are embedded and a multinomial logistic regression is fitted on the
vectors: a second or so on two cores, then about 3 ms per text (the embedding).

Why a linear model and not the best-matching example: in five-fold cross-validation over the
examples (the first writer's 554), nearest example scored 0.68, class centroids 0.79 and this
0.83; with both writers' 962 it scores 0.86, and trained on one writer it scores 0.86 on the
other's. It is a dozen lines of numpy, so it needs no machine-learning library.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from memory.embedder import MiniLMEmbedder

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class SoftmaxRegression:
    weights: Array
    bias: Array
    scale: float

    @classmethod
    def fit(
        cls, vectors: Array, labels: np.ndarray[Any, Any], classes: int, l2: float = 1e-2, steps: int = 400
    ) -> SoftmaxRegression:
        """Full-batch gradient descent on the cross-entropy with an L2 penalty (deterministic)."""
        scale, rate = 10.0, 2.0  # unit vectors: scaled so that logits can spread
        weights, bias = np.zeros((vectors.shape[1], classes)), np.zeros(classes)
        onehot = np.eye(classes)[labels]
        for _ in range(steps):
            gradient = (softmax(scale * vectors @ weights + bias) - onehot) / len(labels)
            weights -= rate * (scale * vectors.T @ gradient + l2 * weights)
            bias -= rate * gradient.sum(axis=0)
        return cls(weights, bias, scale)

    def probabilities(self, vectors: Array) -> Array:
        return softmax(self.scale * vectors @ self.weights + self.bias)


def softmax(logits: Array) -> Array:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


_FITTED: dict[tuple[tuple[str, tuple[str, ...]], ...], SoftmaxRegression] = {}
"""Classifiers by their examples: a process fits each set once, however many sessions it opens."""
_FITTED_LOCK = threading.Lock()


class ExampleIndex:
    """Example texts by label (an intent, or "lasting"/"passing") and the classifier fitted on them;
    safe to share between threads."""

    def __init__(self, examples: dict[str, list[str]], embedder: MiniLMEmbedder | None = None) -> None:
        self.examples = {label: [e for e in texts if e.strip()] for label, texts in examples.items()}
        self.labels = [label for label, texts in self.examples.items() if texts]
        self.embedder = embedder or MiniLMEmbedder()
        self._lock = threading.Lock()
        self._model: SoftmaxRegression | None = None

    def _fitted(self) -> SoftmaxRegression | None:
        with self._lock:
            if self._model is None and len(self.labels) >= 2:
                key = tuple((label, tuple(self.examples[label])) for label in self.labels)
                with _FITTED_LOCK:
                    self._model = _FITTED.get(key)
                    if self._model is None:
                        texts = [text for label in self.labels for text in self.examples[label]]
                        classes = np.array([i for i, label in enumerate(self.labels) for _ in self.examples[label]])
                        vectors = self.embedder.embed_array(texts).astype(np.float64)
                        self._model = _FITTED[key] = SoftmaxRegression.fit(vectors, classes, len(self.labels))
            return self._model

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Each label's probability for `text`, best first (empty without examples for two labels)."""
        model = self._fitted()
        if model is None:
            return []
        probabilities = model.probabilities(self.embedder.embed_array([text]).astype(np.float64))[0]
        return sorted(zip(self.labels, probabilities.tolist(), strict=True), key=lambda p: p[1], reverse=True)

    def probability(self, label: str, texts: list[str]) -> list[float]:
        """`label`'s probability for each of `texts` (0 for all without examples for two labels)."""
        model = self._fitted()
        if model is None or label not in self.labels or not texts:
            return [0.0] * len(texts)
        column = model.probabilities(self.embedder.embed_array(texts).astype(np.float64))[:, self.labels.index(label)]
        return [float(p) for p in column]

    def decide(self, text: str, threshold: float) -> tuple[str, float] | None:
        """The most likely label and its probability when that reaches `threshold`; else None."""
        ranked = self.scores(text)
        return ranked[0] if ranked and ranked[0][1] >= threshold else None


class RemarkFilter:
    """Whether statements are passing remarks, not facts of the user's life.

    "I forget every time", "head's slow this morning", "settling an argument with a friend":
    said beside a question, about the moment. The regular expressions in `memory.extraction`
    catch the remarks somebody foresaw; this classifier, fitted on the `lasting` and `passing`
    examples of `config/remark_examples.yaml`, catches the rest by resemblance: a statement is
    a remark when its `passing` probability reaches `threshold` (see
    `memory.extraction.passing_remarks` for the guards around it).
    """

    def __init__(self, examples: dict[str, list[str]], threshold: float, embedder: MiniLMEmbedder | None = None):
        self.index = ExampleIndex(examples, embedder)
        self.threshold = threshold

    def probabilities(self, statements: list[str]) -> list[float]:
        """Each statement's probability of being a passing remark."""
        return self.index.probability("passing", statements)
