"""The ``project`` stage: place every CLIP vector on the clusters map (2-D PCA), resumable, incremental.

Runs after the ``embed`` stage of ``gallerfs index`` (and after the watcher embeds new photos), as
the ``project`` job. The map (a mean and two principal axes, ``projection_fit``) is fitted on a
sample of at most ``FIT_SAMPLE`` vectors; vectors added later are placed with the same map, so an
index of a few new photos costs milliseconds and the points already drawn do not move. The map is
fitted again only when the vector space changes (another model) or the library has grown to
``REFIT_GROWTH`` times the size it was fitted at; a refit replaces every point and gets a new fit
number. Points are written in short batches, each bumping the library generation, so a killed job
resumes with the vectors still to place. The viewer only reads what this stage stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import projection as projection_db
from gallerfs.db.connection import Database
from gallerfs.db.embeddings import Space
from gallerfs.db.projection import Fit
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

JOB_KIND = "project"
FIT_SAMPLE = 20_000
REFIT_GROWTH = 2.0
BATCH = 5_000
BULK_MIN = 20_000  # vectors to place from which all are read at once
BULK_MAX = 300_000  # ... when there are no more than this many (about 600 MB at 512-d)
_SEED = 20_240_601  # the same sample, so the same map, for the same library


@dataclass
class ProjectReport:
    placed: int = 0
    removed: int = 0
    refitted: bool = False
    points: int = 0

    def as_dict(self) -> dict[str, Any]:
        if self.points == 0 and not self.placed:
            summary = "no photo vectors yet: nothing to place on the clusters map"
        else:
            summary = f"{self.points} photos on the clusters map ({self.placed} placed"
            summary += ", map recomputed)" if self.refitted else ")"
        return {"placed": self.placed, "removed": self.removed, "refitted": self.refitted, "points": self.points,
                "summary": summary}  # fmt: skip


def pca(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [dim], components [2, dim]) of the vectors: the two directions of largest variance, each
    signed so that its largest coefficient is positive (the same data always gives the same map)."""
    data = np.asarray(vectors, dtype=np.float64)
    dim = data.shape[1]
    mean = data.mean(axis=0)
    if len(data) < 2:
        return mean.astype(np.float32), np.zeros((2, dim), dtype=np.float32)
    centred = data - mean
    cov = centred.T @ centred / (len(data) - 1)
    values, vectors_ = np.linalg.eigh(cov)
    comps = vectors_[:, np.argsort(values)[::-1][:2]].T.copy()
    if comps.shape[0] < 2:
        comps = np.vstack([comps, np.zeros((2 - comps.shape[0], dim))])
    for row in comps:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return mean.astype(np.float32), comps.astype(np.float32)


def _needs_refit(fit: Fit | None, space: Space, vectors: int) -> bool:
    if fit is None or fit.model != space.model or fit.space_created_at != space.created_at:
        return True
    return vectors >= REFIT_GROWTH * max(fit.library_n, 1) and vectors > fit.library_n


class _Vectors:
    """Vectors by file id: all read at once from vec0's chunks when many are needed and they fit in
    ``BULK_MAX`` (0.6 s for 100k here, against ~10 s looked up one by one), else looked up per batch."""

    def __init__(self, db: Database, bulk: bool) -> None:
        self.db = db
        self.ids: np.ndarray | None = None
        self.matrix: np.ndarray | None = None
        if bulk:
            ids, matrix = embeddings_db.all_vectors(db)
            order = np.argsort(ids, kind="stable")
            self.ids, self.matrix = ids[order], matrix[order]

    def get(self, wanted: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if self.ids is None or self.matrix is None:
            return embeddings_db.vectors_for(self.db, wanted)
        want = np.asarray(wanted, dtype=np.int64)
        pos = np.clip(np.searchsorted(self.ids, want), 0, max(len(self.ids) - 1, 0))
        found = self.ids[pos] == want if len(self.ids) else np.zeros(len(want), dtype=bool)
        return want[found], self.matrix[pos[found]]


def _refit(db: Database, space: Space, vectors: int, source: _Vectors) -> None:
    """Fit the map on a sample of the vectors and store it (dropping every point)."""
    ids = np.array(embeddings_db.done_ids(db), dtype=np.int64)
    if len(ids) > FIT_SAMPLE:
        ids = np.sort(np.random.default_rng(_SEED).choice(ids, FIT_SAMPLE, replace=False))
    _, matrix = source.get(ids.tolist())
    mean, comps = pca(matrix)
    with db.transaction():
        fit = projection_db.save_fit(db, "pca", space.model, space.created_at, mean, comps, len(matrix), vectors)
        bump_generation(db)
    log.info("clusters map fitted (fit %d) on %d of %d vectors", fit, len(matrix), vectors)


def project_library(db: Database, on_progress: Callable[[int], None] | None = None,
                    on_total: Callable[[int], None] | None = None) -> ProjectReport:  # fmt: skip
    """Bring the clusters map up to date with the vectors (see the module docstring)."""
    report = ProjectReport()
    space = embeddings_db.space(db)
    vectors = projection_db.embedded_count(db) if space is not None else 0
    if space is None or vectors == 0:
        with db.transaction():
            report.removed = projection_db.drop_orphans(db)
            if report.removed:
                bump_generation(db)
        return report
    refit = _needs_refit(projection_db.get_fit(db), space, vectors)
    waiting = projection_db.count_to_place(db)
    if not refit and not waiting:  # nothing new: no job row for it
        with db.transaction():
            report.removed = projection_db.drop_orphans(db)
            if report.removed:
                bump_generation(db)
        report.points = projection_db.point_count(db)
        return report
    job = jobs_db.claim(db, JOB_KIND)
    try:
        source = _Vectors(db, bulk=(refit or waiting >= BULK_MIN) and vectors <= BULK_MAX)
        if refit:
            _refit(db, space, vectors, source)
            report.refitted = True
        fit = projection_db.get_fit(db)
        assert fit is not None
        with db.transaction():
            report.removed = projection_db.drop_orphans(db)
            todo = projection_db.count_to_place(db)
            jobs_db.set_total(db, job.id, job.done + todo)
        if on_total:
            on_total(todo)
        after = 0
        while batch := projection_db.to_place(db, after, BATCH):
            after = batch[-1][0]
            embedded_at = dict(batch)
            ids, matrix = source.get([i for i, _ in batch])
            xy = fit.project(matrix) if len(ids) else np.zeros((0, 2), dtype=np.float32)
            rows = [(int(i), float(x), float(y), embedded_at[int(i)]) for i, (x, y) in zip(ids, xy)]
            with db.transaction():
                projection_db.store_points(db, rows)
                jobs_db.progress(db, job.id, done=len(rows))
                bump_generation(db)
            report.placed += len(rows)
            if on_progress:
                on_progress(len(batch))
    except BaseException as exc:
        jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    jobs_db.finish(db, job.id, "done")
    report.points = projection_db.point_count(db)
    return report


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``project`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "clusters map", lambda on_progress, on_total: project_library(db, on_progress, on_total=on_total), min_total=BATCH)
