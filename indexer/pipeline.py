"""Phase 2: metadata, thumbnails and hashes for every pending file, in a bounded process pool.

Decoding is CPU-bound, so the work runs in worker processes (threads would
serialise on the GIL for everything but the C decoders); the parent alone
writes to the library, one transaction per batch. Each file's state lives in
``files.state``: a process killed at any point resumes with the files still
pending, redoing at most the batch that was in flight. A file that fails is
recorded with its error and skipped; a decoder that crashes its worker is
retried alone, then recorded.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from gallerfs.config import Settings
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths
from indexer.process_file import FileResult, process_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    file_id: int
    source_id: int
    relpath: bytes
    path: bytes
    kind: str
    size: int  # files.size when queued: a result for another size is dropped


@dataclass
class Phase2Report:
    processed: int = 0
    failed: int = 0
    skipped: int = 0  # changed or vanished while being processed; picked up again later


def _worker_init() -> None:
    # Workers are niced so a running index leaves the desktop (and the mount) responsive.
    try:
        os.nice(5)
    except OSError:
        pass


def _run(task: Task, paths: LibraryPaths, settings: Settings) -> FileResult:
    return process_file(
        task.path, task.kind, task.file_id, str(paths.thumbnails), settings.thumbnail_grid_px,
        settings.thumbnail_preview_px, settings.thumbnail_quality, settings.max_image_pixels,
    )  # fmt: skip


def _crashed(reason: str) -> FileResult:
    return FileResult(None, None, None, None, None, (), (("decode", reason),))


def make_pool(workers: int) -> ProcessPoolExecutor:
    # forkserver: workers start clean, without the parent's threads (watchdog, trio) or its SQLite handle.
    ctx = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)


class Phase2:
    """Runs phase 2 over the pending files of the library."""

    def __init__(self, db: Database, paths: LibraryPaths, settings: Settings, job_id: int | None,
                 on_progress: Callable[[int], None] | None = None,
                 pool: ProcessPoolExecutor | None = None) -> None:  # fmt: skip
        """A pool passed in (the watcher keeps one alive) is left running; see :attr:`pool`."""
        self.db = db
        self.paths = paths
        self.settings = settings
        self.job_id = job_id
        self.on_progress = on_progress
        self.report = Phase2Report()
        self._roots = {s.id: s.path for s in sources_db.list_sources(db)}
        self.pool = pool
        self._owns_pool = pool is None

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        return make_pool(workers)

    def _next_tasks(self, after_id: int, limit: int) -> list[Task]:
        rows = files_db.pending_batch(self.db, after_id, limit)
        if not rows:
            return []
        with self.db.transaction():
            files_db.mark_attempt(self.db, [r[0] for r in rows])
        tasks = []
        for file_id, source_id, relpath, kind, size in rows:
            root = self._roots.get(source_id)
            if root is None:
                continue
            tasks.append(Task(file_id, source_id, relpath, root.rstrip(b"/") + b"/" + relpath, kind, size))
        return tasks

    def run(self) -> Phase2Report:
        batch_size = max(1, self.settings.batch_size)
        workers = max(1, self.settings.workers)
        window = max(batch_size, workers * 4)
        last_id = 0
        inflight: dict[Future[FileResult], Task] = {}
        results: list[tuple[Task, FileResult]] = []
        pool = self.pool or self._pool(workers)
        try:
            while True:
                while len(inflight) < window:
                    tasks = self._next_tasks(last_id, min(batch_size, window - len(inflight)))
                    if not tasks:
                        break
                    last_id = tasks[-1].file_id
                    for task in tasks:
                        inflight[pool.submit(_run, task, self.paths, self.settings)] = task
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    task = inflight.pop(future)
                    try:
                        results.append((task, future.result()))
                    except BrokenProcessPool:
                        broken = True
                        inflight[future] = task
                    except Exception as exc:  # a bug, not bad input: record it and go on
                        log.exception("phase 2 failed on %s", os.fsdecode(task.path))
                        results.append((task, _crashed(f"internal error: {exc!r}")))
                if broken:
                    pool.shutdown(cancel_futures=True)
                    for task in list(inflight.values()):
                        results.append((task, self._isolated(task)))
                    inflight.clear()
                    pool = self._pool(workers)
                    self.pool = pool
                if len(results) >= batch_size:
                    self._commit(results)
                    results = []
            if results:
                self._commit(results)
        finally:
            if self._owns_pool:
                pool.shutdown(cancel_futures=True)
                self.pool = None
            else:
                self.pool = pool
        return self.report

    def _isolated(self, task: Task) -> FileResult:
        """Run one file in a pool of its own, after a worker died, to find the file that kills it."""
        with self._pool(1) as alone:
            try:
                return alone.submit(_run, task, self.paths, self.settings).result()
            except BrokenProcessPool:
                return _crashed("the decoder crashed on this file")

    def _commit(self, results: list[tuple[Task, FileResult]]) -> None:
        failed = 0
        with self.db.transaction():
            for task, result in results:
                error = "; ".join(f"{stage}: {msg}" for stage, msg in result.errors) or None
                meta = dataclasses.asdict(result.metadata) if result.metadata is not None else None
                stored = files_db.store_result(
                    self.db, task.file_id, metadata=meta, content_hash=result.content_hash,
                    partial_hash=result.partial_hash, phash=result.phash, dhash=result.dhash,
                    error=error, expected_size=task.size,
                )  # fmt: skip
                if not stored:
                    self.report.skipped += 1
                    continue
                files_db.clear_failures(self.db, task.file_id)
                for stage, msg in result.errors:
                    files_db.record_failure(
                        self.db, source_id=task.source_id, file_id=task.file_id, job_id=self.job_id,
                        path=task.relpath, stage=stage, error=msg,
                    )  # fmt: skip
                if result.errors:
                    failed += 1
                    log.warning("%s: %s", os.fsdecode(task.path), error)
            if self.job_id is not None:
                last = next((r for _, r in reversed(results) if r.errors), None)
                jobs_db.progress(
                    self.db, self.job_id, done=len(results), failed=failed,
                    error="; ".join(m for _, m in last.errors) if last else None,
                )  # fmt: skip
            bump_generation(self.db)
        self.report.processed += len(results)
        self.report.failed += failed
        if self.on_progress:
            self.on_progress(len(results))
