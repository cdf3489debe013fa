"""An in-memory copy of the library's vectors for long-lived processes (mount, viewer).

A sqlite-vec ``vec0`` KNN scans the vectors in SQLite pages on every query
(~95 ms at 100k here); numpy over the same vectors held in memory takes ~10 ms.
A process that answers many queries calls ``enable()`` once; the copy is
loaded on a background thread and used only while it matches the library
exactly (the vector version that every change bumps, and the model): after any
change queries fall back to ``vec0`` until a background reload catches up, so
results are never stale. A reload reads the version and the vectors in one
read transaction (so they match whatever the embedding job commits meanwhile),
and reloads are spaced by twice the last load's duration, so a running
embedding job does not keep the process re-reading every vector. Memory: 2 KB
per photo (512-d float32); libraries larger than ``max_vectors`` are left to
``vec0``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import search as search_db
from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

DEFAULT_MAX_VECTORS = 200_000
LOAD_GAP_FACTOR = 2.0  # a reload starts no sooner than this many load durations after the last one


@dataclass(frozen=True)
class Snapshot:
    version: tuple[Any, ...]
    ids: np.ndarray  # [n] file ids
    matrix: np.ndarray  # [n, dim] unit vectors

    def scores(self, query: np.ndarray) -> np.ndarray:
        return self.matrix @ query.astype(np.float32)


class MemoryIndex:
    def __init__(self, db_path: Path, max_vectors: int = DEFAULT_MAX_VECTORS,
                 opener: Callable[[Path], Database] | None = None) -> None:  # fmt: skip
        self.db_path = Path(db_path)
        self.max_vectors = max_vectors
        self._opener = opener or (lambda p: Database(p, readonly=True))
        self._snapshot: Snapshot | None = None
        self._loading: threading.Thread | None = None
        self._too_big = False
        self._lock = threading.Lock()
        self.loads = 0  # full reads of the vectors (tests, benchmarks)
        self._not_before = 0.0  # monotonic time before which no reload starts

    def get(self, db: Database) -> Snapshot | None:
        """The copy if it matches the library now; else None (and a reload starts in the background)."""
        current = embeddings_db.version(db)
        snap = self._snapshot
        if snap is not None and snap.version == current:
            return snap
        if current[0] is not None and not self._too_big:
            self._start_reload()
        return None

    def _start_reload(self) -> None:
        with self._lock:
            if self._loading is not None and self._loading.is_alive():
                return
            self._loading = threading.Thread(target=self._reload, name="gallerfs-memindex", daemon=True)
            self._loading.start()

    def _reload(self) -> None:
        # While the embedding job runs, every query would see a newer version and start another full read:
        # leave at least twice the last load's duration between loads (queries use vec0 meanwhile).
        delay = self._not_before - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        started = time.monotonic()
        try:
            self._load()
        finally:
            self._not_before = time.monotonic() + LOAD_GAP_FACTOR * (time.monotonic() - started)

    def _load(self) -> None:
        try:
            db = self._opener(self.db_path)
            try:
                # One read transaction: the version is that of exactly these vectors, even while the
                # embedding job commits batches (reading them in separate statements re-read everything
                # until no batch landed in between).
                with embeddings_db.read_snapshot(db):
                    version = embeddings_db.version(db)
                    if search_db.vector_count(db) > self.max_vectors:
                        self._too_big = True  # left to vec0 for this process's life
                        log.info("memory index: more than %d vectors, not loaded", self.max_vectors)
                        return
                    ids, matrix = embeddings_db.all_vectors(db)
                self.loads += 1
                self._snapshot = Snapshot(version, ids, matrix)
                log.debug("memory index: %d vectors loaded", len(ids))
            finally:
                db.close()
        except Exception:  # a reload that fails leaves queries on vec0; never breaks a search
            log.exception("loading the in-memory vector index failed")

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a reload in progress (tests, benchmarks)."""
        thread = self._loading
        if thread is not None:
            thread.join(timeout)


_active: MemoryIndex | None = None


def enable(db_path: Path, max_vectors: int = DEFAULT_MAX_VECTORS) -> MemoryIndex:
    """Use an in-memory copy of the vectors in this process from now on (idempotent per library)."""
    global _active
    if _active is None or _active.db_path != Path(db_path):
        _active = MemoryIndex(db_path, max_vectors)
    return _active


def disable() -> None:
    global _active
    _active = None


def active_snapshot(db: Database) -> Snapshot | None:
    index = _active
    if index is None or index.db_path != db.path:
        return None
    return index.get(db)
