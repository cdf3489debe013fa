"""Phase 2: metadata, thumbnails and hashes for every pending file, in a bounded process pool.

Decoding is CPU-bound, so the work runs in worker processes (threads would
serialise on the GIL for everything but the C decoders); the parent alone
writes to the library, one transaction per batch. Each file's state lives in
``files.state``: a process killed at any point resumes with the files still
pending, redoing at most the batch that was in flight. A file that fails is
recorded with its error and skipped.

Each file gets ``file_timeout_s`` seconds in its worker; a worker that runs
past it is killed and replaced, and a worker that dies (segfault, OOM killer)
is blamed on the one file it held. Such a file is tried again up to
``file_attempts`` times in all (``files.attempts`` counts the runs, also across
indexer processes killed while it was in flight) and then quarantined: state
'error', with the reason in ``status --failures``, until
``index --retry-failed``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import signal
import time
from dataclasses import dataclass
from typing import Callable

from gallerfs.config import Settings
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths
from gallerfs.indexer.process_file import FileResult, process_file
from gallerfs.indexer.workers import Outcome, WorkerPool

log = logging.getLogger(__name__)

# Test hooks, read only in the worker: a file whose name matches the fnmatch pattern in
# GALLERFS_TEST_HANG_ON hangs its worker; one matching GALLERFS_TEST_CRASH_ON makes its worker
# die of SIGSEGV. They stand in for a decoder that hangs or crashes on a file; never set them otherwise.
TEST_HANG_ENV = "GALLERFS_TEST_HANG_ON"
TEST_CRASH_ENV = "GALLERFS_TEST_CRASH_ON"


@dataclass(frozen=True)
class Task:
    file_id: int
    source_id: int
    relpath: bytes
    path: bytes
    kind: str
    size: int  # files.size when queued: a result for another size is dropped
    attempts: int  # runs of this file so far, this one included


@dataclass
class Phase2Report:
    processed: int = 0
    failed: int = 0
    skipped: int = 0  # changed or vanished while being processed; picked up again later
    quarantined: int = 0  # hung or crashed their worker file_attempts times


def _test_fault(path: bytes) -> None:
    """The test hooks above (see TEST_HANG_ENV): a hung or crashing decoder, on demand."""
    name = os.fsdecode(os.path.basename(path))
    hang, crash = os.environ.get(TEST_HANG_ENV), os.environ.get(TEST_CRASH_ENV)
    if hang and fnmatch.fnmatchcase(name, hang):
        while True:
            time.sleep(3600)
    if crash and fnmatch.fnmatchcase(name, crash):
        os.kill(os.getpid(), signal.SIGSEGV)


def _run(task: Task, paths: LibraryPaths, settings: Settings) -> FileResult:
    _test_fault(task.path)
    return process_file(
        task.path, task.kind, task.file_id, str(paths.thumbnails), settings.thumbnail_grid_px,
        settings.thumbnail_preview_px, settings.thumbnail_quality, settings.max_image_pixels,
    )  # fmt: skip


def _failed(stage: str, reason: str) -> FileResult:
    return FileResult(None, None, None, None, None, (), ((stage, reason),))


def _attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def make_pool(workers: int) -> WorkerPool:
    return WorkerPool(workers, preload=(__name__,))  # workers start with the decoders imported


class Phase2:
    """Runs phase 2 over the pending files of the library."""

    def __init__(self, db: Database, paths: LibraryPaths, settings: Settings, job_id: int | None,
                 on_progress: Callable[[int], None] | None = None,
                 pool: WorkerPool | None = None) -> None:  # fmt: skip
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
        self.timeout_s = float(settings.file_timeout_s) or None
        self.max_attempts = max(1, settings.file_attempts)

    def _next_tasks(self, after_id: int, limit: int) -> tuple[list[Task], list[tuple[Task, FileResult]], int]:
        """(tasks to run, files quarantined without running, last id seen)."""
        rows = files_db.pending_batch(self.db, after_id, limit)
        if not rows:
            return [], [], after_id
        with self.db.transaction():
            files_db.mark_attempt(self.db, [r[0] for r in rows])
        tasks, given_up = [], []
        for file_id, source_id, relpath, kind, size, attempts in rows:
            root = self._roots.get(source_id)
            if root is None:
                continue
            task = Task(file_id, source_id, relpath, root.rstrip(b"/") + b"/" + relpath, kind, size, attempts + 1)
            if attempts >= self.max_attempts:
                # Started that many times and never finished: each time the indexer itself died with it.
                reason = (f"the indexer was killed while processing this file, {_attempts(attempts)}; "
                          "quarantined (gallerfs index --retry-failed tries again)")  # fmt: skip
                given_up.append((task, _failed("process", reason)))
            else:
                tasks.append(task)
        return tasks, given_up, rows[-1][0]

    def _submit(self, pool: WorkerPool, task: Task) -> None:
        pool.submit(task.file_id, self.timeout_s, _run, task, self.paths, self.settings)

    def _ended(self, task: Task, outcome: Outcome) -> tuple[Task, FileResult] | Task:
        """The result to record, or the task to run again (hung or crashed, attempts left)."""
        if outcome.ok:
            return task, outcome.value
        if outcome.error is not None:  # a bug, not bad input: record it and go on
            log.error("phase 2 failed on %s: %s", os.fsdecode(task.path), outcome.error)
            return task, _failed("decode", outcome.describe())
        log.warning("%s: %s (attempt %d of %d)", os.fsdecode(task.path), outcome.describe(), task.attempts,
                    self.max_attempts)  # fmt: skip
        if task.attempts < self.max_attempts:
            with self.db.transaction():
                files_db.mark_attempt(self.db, [task.file_id])
            return dataclasses.replace(task, attempts=task.attempts + 1)
        self.report.quarantined += 1
        reason = (f"{outcome.describe()}; quarantined after {_attempts(task.attempts)} "
                  "(gallerfs index --retry-failed tries again)")  # fmt: skip
        return task, _failed("process", reason)

    def run(self) -> Phase2Report:
        batch_size = max(1, self.settings.batch_size)
        workers = max(1, self.settings.workers)
        window = max(batch_size, workers * 4)
        last_id = 0
        inflight: dict[int, Task] = {}
        results: list[tuple[Task, FileResult]] = []
        pool = self.pool or make_pool(workers)
        self.pool = pool
        try:
            while True:
                while len(inflight) < window:
                    tasks, given_up, after = self._next_tasks(last_id, min(batch_size, window - len(inflight)))
                    if after == last_id:
                        break
                    last_id = after
                    results.extend(given_up)
                    for task in tasks:
                        inflight[task.file_id] = task
                        self._submit(pool, task)
                if not inflight:
                    break
                for file_id, outcome in pool.wait():
                    if file_id not in inflight:  # left over from a run of a shared pool that was interrupted
                        continue
                    ended = self._ended(inflight.pop(file_id), outcome)
                    if isinstance(ended, Task):
                        inflight[file_id] = ended
                        self._submit(pool, ended)
                    else:
                        results.append(ended)
                if len(results) >= batch_size:
                    self._commit(results)
                    results = []
            if results:
                self._commit(results)
        except BaseException:
            # Stopped in an orderly way (Ctrl-C, an error here): the files in flight, and those done but not
            # committed, were not at fault; their runs do not count towards file_attempts.
            if not self._owns_pool:
                pool.shutdown()  # drop what is still queued or running; workers start again on next use
            unfinished = [*inflight, *(task.file_id for task, _ in results)]
            if unfinished:
                try:
                    with self.db.transaction():
                        files_db.unmark_attempt(self.db, unfinished)
                except Exception:
                    log.warning("could not take back the attempts of %d interrupted files", len(unfinished),
                                exc_info=True)  # fmt: skip
            raise
        finally:
            if self._owns_pool:
                pool.shutdown()
                self.pool = None
        return self.report

    def _commit(self, results: list[tuple[Task, FileResult]]) -> None:
        failed = 0
        with self.db.transaction():
            for task, result in results:
                error = "; ".join(f"{stage}: {msg}" for stage, msg in result.errors) or None
                meta = dataclasses.asdict(result.metadata) if result.metadata is not None else None
                stored = files_db.store_result(
                    self.db, task.file_id, metadata=meta, content_hash=result.content_hash,
                    partial_hash=result.partial_hash, phash=result.phash, dhash=result.dhash,
                    error=error, expected_size=task.size, kind=result.kind,
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
