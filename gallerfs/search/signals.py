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

from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.search import memindex
from gallerfs.search.filters import Scope

log = logging.getLogger(__name__)


class Signal(Protocol):
    @property
    def name(self) -> str: ...  # shown by --explain

    @property
    def weight(self) -> float: ...  # its scores count this much in the fused score

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]: ...


_AMONG_CHUNK = 500_000  # candidate ids per vec0 query


@dataclass(frozen=True)
class VectorSignal:
    """Cosine similarity to a query vector (a text embedding, or a photo's own vector)."""

    query: np.ndarray
    name: str = "clip"
    weight: float = 1.0
    exclude: frozenset[int] = field(default_factory=frozenset)  # e.g. the photo asked about

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        want = k + len(self.exclude)
        snapshot = memindex.active_snapshot(db)
        if snapshot is not None:
            found = self._in_memory(db, snapshot, scope, want)
        elif scope.ids is not None:
            found = self._among(db, scope.ids_json(_AMONG_CHUNK), want)
        else:
            found = self._knn(db, scope, want)
        for i in self.exclude:
            found.pop(i, None)
        return found

    def _in_memory(self, db: Database, snap: memindex.Snapshot, scope: Scope, k: int) -> dict[int, float]:
        """The exact top k over the in-memory copy, best first: a selective filter is a mask of its rows;
        a broad one is checked on the best candidates first (see ``quantised.best``)."""
        allowed = scope.mask(snap.ids) if scope.ids is not None else None
        keep = None
        if allowed is None and scope.filtered:

            def keep(rows: np.ndarray) -> np.ndarray:
                ids = snap.ids[rows].tolist()
                kept = scope.keep(db, ids)
                return np.fromiter((i in kept for i in ids), dtype=bool, count=len(ids))

        rows, scores = snap.best(self.query, k, allowed, keep)
        return {int(snap.ids[r]): float(v) for r, v in zip(rows.tolist(), scores.tolist())}

    def _among(self, db: Database, candidates: list[str], k: int) -> dict[int, float]:
        """Exact top k among the candidates (``ids_json`` chunks), inside one vec0 scan per chunk."""
        found: dict[int, float] = {}
        for chunk in candidates:
            found.update(search_db.knn(db, self.query, k, chunk))
        if len(found) > k:
            found = dict(sorted(found.items(), key=lambda kv: -kv[1])[:k])
        return found

    def _knn(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        """KNN over the vec0 index; with a broad filter, widen k until enough results pass it."""
        total = search_db.vector_count(db)
        ask = min(total, k * 4 if scope.filtered else k, search_db.MAX_KNN_K)
        while True:
            near = search_db.knn(db, self.query, ask)
            ids = [i for i, _ in near]
            kept = scope.keep(db, ids)
            found = {i: s for i, s in near if i in kept}
            if len(found) >= k or ask >= total:
                return found
            if ask >= search_db.MAX_KNN_K:
                log.debug("filter too sparse for KNN at k=%d; searching among every match", ask)
                return self._among(db, search_db.ids_json_chunks(scope.all_matching(db), _AMONG_CHUNK), k)
            ask = min(total, ask * 4, search_db.MAX_KNN_K)
