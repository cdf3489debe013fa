"""Signals: each one scores library files for a query, behind one interface.

A signal returns ``{file_id: score}`` for at most ``k`` files inside a
``Scope``, with scores on a similarity scale where higher is better (cosine
similarity for CLIP). Later signals (OCR text, tags, faces, places, parsed
dates) implement the same ``Signal`` protocol and are fused by
``gallerfs.search.engine``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.search.filters import Scope

log = logging.getLogger(__name__)


class Signal(Protocol):
    name: str
    weight: float

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]: ...


def _top_k(ids: np.ndarray, scores: np.ndarray, k: int) -> dict[int, float]:
    if len(ids) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        ids, scores = ids[part], scores[part]
    return {int(i): float(s) for i, s in zip(ids, scores)}


@dataclass(frozen=True)
class VectorSignal:
    """Cosine similarity to a query vector (a text embedding, or a photo's own vector)."""

    query: np.ndarray
    name: str = "clip"
    weight: float = 1.0
    exclude: frozenset[int] = field(default_factory=frozenset)  # e.g. the photo asked about

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        want = k + len(self.exclude)
        if scope.ids is not None:
            found = self._exact(db, scope.ids, want)
        else:
            found = self._knn(db, scope, want)
        for i in self.exclude:
            found.pop(i, None)
        return found

    def _exact(self, db: Database, candidates: np.ndarray, k: int) -> dict[int, float]:
        """Score candidates directly: cost proportional to the candidates, not the library."""
        best: dict[int, float] = {}
        chunk = 50_000
        for start in range(0, len(candidates), chunk):
            ids, matrix = embeddings_db.vectors_for(db, candidates[start : start + chunk].tolist())
            if len(ids):
                best.update(_top_k(ids, matrix @ self.query.astype(np.float32), k))
        if len(best) > k:
            best = dict(sorted(best.items(), key=lambda kv: -kv[1])[:k])
        return best

    def _knn(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        """KNN over the vec0 index; with a broad filter, widen k until enough results pass it."""
        total = search_db.vector_count(db)
        ask = min(total, k if not scope.filtered else k * 4)
        while True:
            near = search_db.knn(db, self.query, ask)
            ids = [i for i, _ in near]
            kept = scope.keep(db, ids)
            found = {i: s for i, s in near if i in kept}
            if len(found) >= k or ask >= total:
                return found
            if ask >= search_db.MAX_KNN_K:
                log.debug("filter too sparse for KNN at k=%d; scoring every match", ask)
                return self._exact(db, scope.all_matching(db), k)
            ask = min(total, ask * 4, search_db.MAX_KNN_K)
