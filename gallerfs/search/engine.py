"""The one place where signals are fused and results ranked.

Each signal scores up to ``k`` candidates in the filter scope; the fused score
of a file is the weighted sum of its signal scores (a signal that did not
return a file contributes 0). A file is kept when, for at least one signal,
it scores at least ``cutoff`` times that signal's best score — a threshold
relative to the best match works across queries, where a fixed similarity
does not (CLIP's absolute scores vary from query to query), and judging each
signal on its own scale lets a strong text match not hide every CLIP match. Equal scores are ordered newest first, then by id, so listings are
stable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
    signals: dict[str, float] = field(default_factory=dict, compare=False)  # each signal's own score (--explain)


def rank(db: Database, signals: Sequence[Signal], scope: Scope, limit: int, cutoff: float) -> list[SearchHit]:
    if limit <= 0 or not signals:
        return []
    k = limit * CANDIDATE_FACTOR if len(signals) > 1 else limit
    fused: dict[int, float] = {}
    parts: dict[int, dict[str, float]] = {}
    kept: set[int] = set()
    for signal in signals:
        found = signal.scores(db, scope, k)
        if not found:
            continue
        best = max(signal.weight * s for s in found.values())
        for file_id, score in found.items():
            weighted = signal.weight * score
            fused[file_id] = fused.get(file_id, 0.0) + weighted
            parts.setdefault(file_id, {})[signal.name] = score
            if best <= 0 or cutoff <= 0 or weighted >= cutoff * best - _TIE:
                kept.add(file_id)
    if not fused:
        return []
    fused = {i: s for i, s in fused.items() if i in kept}
    times = search_db.sort_times(db, list(fused))
    ordered = sorted(fused.items(), key=lambda kv: (-round(kv[1] / _TIE), -times.get(kv[0], 0.0), kv[0]))
    return [SearchHit(file_id, score, parts[file_id]) for file_id, score in ordered[:limit]]
