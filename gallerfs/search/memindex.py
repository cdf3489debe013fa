"""A copy of the library's vectors for fast searches: int8 codes scanned, float32 re-ranked.

A sqlite-vec ``vec0`` KNN scans the vectors in SQLite pages on every query (2.0-2.4 s at 1M
here). This copy holds them as int8 codes plus float32 originals (see ``quantised``: the exact
float32 top k, proven per query, from one pass over a quarter of the bytes), both
memory-mapped from the library's cache file (``vectorcache``), so a process maps them in
milliseconds instead of reading SQLite for seconds, and many processes share one copy in the
page cache.

A process that answers many queries (the mount) calls ``enable()`` once; the copy is loaded
on a background thread and used only while it matches the library exactly (the vector version
that every change bumps, and the model): after any change queries fall back to ``vec0`` until a
background reload catches up, so results are never stale. A reload reads the version and the
vectors in one read transaction (so they match whatever the embedding job commits meanwhile),
and reloads are spaced by twice the last load's duration, so a running embedding job does not
keep the process re-reading every vector. Other processes (``gallerfs search``, the viewer) use
``one_shot()`` per query: the cache file when it is current, else, for a library large enough
that ``vec0`` is slow and not being embedded right now, the file is written first.

Memory at 1M 512-d vectors: before, 2 GB of float32 in process memory; now ~90 MB of process
memory, the 512 MB of codes scanned per query and the rows re-ranked (a few MB, though the
kernel maps whole page-cache folios around them) being file pages it can drop and re-read.
Without a writable cache folder the copy lives in process memory instead (2.5 GB at 1M).
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
from gallerfs.search import quantised, vectorcache

log = logging.getLogger(__name__)

DEFAULT_MAX_VECTORS = 4_000_000  # 2 GB of codes; larger libraries are left to vec0
ONE_SHOT_MIN = 50_000  # vectors from which a one-shot search writes the cache file rather than use vec0
SETTLED_S = 60.0  # ... once no vector was stored for this long
LOAD_GAP_FACTOR = 2.0  # a reload starts no sooner than this many load durations after the last one


@dataclass(frozen=True)
class Snapshot:
    version: tuple[Any, ...]
    ids: np.ndarray  # [n] file ids
    matrix: np.ndarray  # [n, dim] unit vectors, float32
    codes: quantised.Codes | None = None  # computed from ``matrix`` when not given

    def __post_init__(self) -> None:
        if self.codes is None:
            object.__setattr__(self, "codes", quantised.quantise_all(np.asarray(self.matrix, dtype=np.float32)))

    @classmethod
    def from_stored(cls, stored: vectorcache.Stored) -> Snapshot:
        return cls(stored.version, stored.ids, stored.matrix, stored.codes)

    def exact(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """float32 scores of these rows (read in file order, so a mapped matrix is read forwards)."""
        order = np.argsort(rows, kind="stable")
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = self.matrix[rows[order]] @ query
        return out

    def best(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
             keep: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(rows, exact scores) of the k best vectors, best first; see ``quantised.best``."""
        q = np.ascontiguousarray(query, dtype=np.float32)
        assert self.codes is not None
        return quantised.best(self.codes, lambda rows: self.exact(rows, q), q, k, allowed, keep)


def _read(db: Database, cache: Path, max_vectors: int | None) -> Snapshot | None:
    """The vectors as of one read transaction: from the cache file when it is current, else from SQLite
    (then written to the cache file). None when there are more than ``max_vectors``."""
    with embeddings_db.read_snapshot(db):
        version = embeddings_db.version(db)
        stored = vectorcache.read(cache, version)
        if stored is not None:
            return Snapshot.from_stored(stored)
        if max_vectors is not None and search_db.vector_count(db) > max_vectors:
            return None
        ids, matrix = embeddings_db.all_vectors(db)
    try:
        vectorcache.write(cache, version, ids, matrix)
        stored = vectorcache.read(cache, version)
    except OSError as exc:  # a read-only library: keep the copy in process memory
        log.info("vector cache %s not written (%s); vectors kept in memory", cache, exc)
        stored = None
    return Snapshot.from_stored(stored) if stored is not None else Snapshot(version, ids, matrix)


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
                before = time.monotonic()
                snapshot = _read(db, vectorcache.path_for(self.db_path), self.max_vectors)
                if snapshot is None:
                    self._too_big = True  # left to vec0 for this process's life
                    log.info("memory index: more than %d vectors, not loaded", self.max_vectors)
                    return
                self.loads += 1
                self._snapshot = snapshot
                log.debug("memory index: %d vectors in %.2f s", len(snapshot.ids), time.monotonic() - before)
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
    """The copy to search now: the enabled index's (None while it catches up), else ``one_shot``'s."""
    index = _active
    if index is None:
        return one_shot(db)
    if index.db_path != db.path:
        return None
    return index.get(db)


def one_shot(db: Database) -> Snapshot | None:
    """For a process that answers one query (the CLI): the cache file when it holds the library's
    vectors now; when it does not, the library is large and no embedding job stored a vector in the
    last minute, the file is written first (10-20 s at 1M here, once per change of the vectors;
    vec0 takes ~2 s a query) so this and later searches skip vec0's scan."""
    if not embeddings_db.has_vector_table(db):
        return None
    cache = vectorcache.path_for(db.path)
    stored = vectorcache.read(cache, embeddings_db.version(db))
    if stored is not None:
        return Snapshot.from_stored(stored)
    if search_db.vector_count(db) < ONE_SHOT_MIN:
        return None  # vec0 answers a small library in milliseconds
    last = embeddings_db.last_embedded_at(db)
    if last is not None and time.time() - last < SETTLED_S:
        return None  # an embedding job is storing vectors: the file would be stale again at once
    try:
        return _read(db, cache, DEFAULT_MAX_VECTORS)
    except Exception:  # never breaks a search: vec0 answers
        log.exception("writing the vector cache failed")
        return None
