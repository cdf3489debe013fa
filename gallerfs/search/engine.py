"""The one place where signals are fused and results ranked.

Each signal scores up to ``k`` candidates in the filter scope; the fused score
of a file is the weighted sum of its signal scores (a signal that did not
return a file contributes 0). Results below ``cutoff`` times the best score
are dropped — a threshold relative to the best match works across queries,
where a fixed similarity does not (CLIP's absolute scores vary from query to
query). Equal scores are ordered newest first, then by id, so listings are
stable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.search.filters import Scope
from gallerfs.search.signals import Signal

log = logging.getLogger(__name__)

CANDIDATE_FACTOR = 2  # each signal proposes this many times the wanted results, so fusion can reorder
_TIE = 1e-6


@dataclass(frozen=True)
class SearchHit:
    file_id: int
    score: float


def rank(db: Database, signals: Sequence[Signal], scope: Scope, limit: int, cutoff: float) -> list[SearchHit]:
    if limit <= 0 or not signals:
        return []
    k = limit * CANDIDATE_FACTOR if len(signals) > 1 else limit
    fused: dict[int, float] = {}
    for signal in signals:
        for file_id, score in signal.scores(db, scope, k).items():
            fused[file_id] = fused.get(file_id, 0.0) + signal.weight * score
    if not fused:
        return []
    best = max(fused.values())
    if best > 0 and cutoff > 0:
        fused = {i: s for i, s in fused.items() if s >= cutoff * best - _TIE}
    times = search_db.sort_times(db, list(fused))
    ordered = sorted(fused.items(), key=lambda kv: (-round(kv[1] / _TIE), -times.get(kv[0], 0.0), kv[0]))
    return [SearchHit(file_id, score) for file_id, score in ordered[:limit]]
