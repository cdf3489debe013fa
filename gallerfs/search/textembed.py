"""Sentence vectors from the installed ``text`` model (all-MiniLM-L6-v2) on onnxruntime + ``tokenizers``.

The ONNX graph (built by ``gallerfs models install text``, see ``models/export_text.py``) does the mean
pooling and normalisation, so a vector here is exactly sentence-transformers' output: 384 floats of unit
length. Encoders are cached per model file; queries are cached per encoder.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gallerfs.models.packaged import Installed

log = logging.getLogger(__name__)

MAX_TOKENS = 128  # queries and tag names are short; longer text is cut here
_QUERY_CACHE = 256
_CHUNK = 32  # texts per model call


class TextEmbedder:
    def __init__(self, model: Installed, device: str = "cpu", threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        from gallerfs.indexer.clip.model import _session, default_threads  # onnxruntime loads only now

        path = model.path("model.onnx")
        self.identity = model.identity
        self._tokenizer = Tokenizer.from_file(str(model.path("tokenizer.json")))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._session: Any = _session(str(path), path.stat().st_mtime_ns, device, threads or default_threads())
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """[N, 384] float32 unit vectors (in chunks of similar length, so little is padding)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), _CHUNK):
            rows = order[start : start + _CHUNK]
            out[rows] = self._encode([texts[i] for i in rows])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        out = self._session.run(None, feeds)[0]
        return np.asarray(out, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            hit = self._cache.get(text)
        if hit is not None:
            return hit
        vector = self.encode([text])[0]
        with self._lock:
            if len(self._cache) >= _QUERY_CACHE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = vector
        return vector


@functools.lru_cache(maxsize=4)
def _embedder(folder: str, identity: str, device: str) -> TextEmbedder:
    from gallerfs.models.packaged import SPECS, MODEL_JSON
    import json

    info = json.loads((Path(folder) / MODEL_JSON).read_text(encoding="utf-8"))
    return TextEmbedder(Installed(SPECS["text"], Path(folder), info), device)


def embedder(model: Installed, device: str = "cpu") -> TextEmbedder:
    """A cached embedder for the installed model (a new one after a reinstall)."""
    return _embedder(str(model.folder), model.identity, device)
