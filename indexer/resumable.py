"""The loop every resumable analysis job (embed, tags, ocr, faces) runs, written once.

A job claims its row in ``jobs`` (resuming an interrupted one) and sets its total (:func:`claimed`), then
takes its files a batch at a time by file id (:func:`pages`) and records each batch's outcomes in one
short transaction (:func:`record_batches`): the job's own results, a recorded failure and a warning for
each file that could not be analysed, and the batch's progress on the job row. The job ends ``done``, or
``failed`` with the error that stopped it. Which files are done is kept per file by each job's own table,
so a killed job redoes at most the batch in flight.

An outcome is per file: the job's result, an error (one line), or None: the file waits (its source is
offline and nothing else can be read); it is tried again by a later run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Iterator, Protocol, Sequence, TypeVar

from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db.connection import Database
from gallerfs.db.jobs import Job


class Task(Protocol):
    """What the loop needs of a job's task row."""

    @property
    def file_id(self) -> int: ...

    @property
    def source_id(self) -> int: ...

    @property
    def relpath(self) -> bytes: ...


class PathTask(Task, Protocol):
    """A task whose warnings name its file by path."""

    @property
    def path(self) -> bytes: ...


T = TypeVar("T", bound=Task)
R = TypeVar("R")


@dataclass(frozen=True)
class Batch(Generic[T, R]):
    """One batch's outcomes, sorted: results, errors, and how many files wait."""

    done: list[tuple[T, R]]
    failed: list[tuple[T, str]]
    waiting: int

    @classmethod
    def of(cls, outcomes: Sequence[tuple[T, R | str | None]]) -> Batch[T, R]:
        done: list[tuple[T, R]] = []
        failed: list[tuple[T, str]] = []
        for task, outcome in outcomes:
            if isinstance(outcome, str):
                failed.append((task, outcome))
            elif outcome is not None:
                done.append((task, outcome))
        return cls(done, failed, len(outcomes) - len(done) - len(failed))


@contextlib.contextmanager
def claimed(db: Database, kind: str, todo: int, on_total: Callable[[int], None] | None = None) -> Iterator[Job]:
    """The job row of one run: claimed, its total set to what is done plus *todo* (then ``on_total(todo)``),
    finished ``done`` when the block ends, or ``failed`` with the exception that ends it (re-raised)."""
    job = jobs_db.claim(db, kind)
    with db.transaction():
        jobs_db.set_total(db, job.id, job.done + todo)
    if on_total:
        on_total(todo)
    try:
        yield job
    except BaseException as exc:
        jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    jobs_db.finish(db, job.id, "done")


def pages(fetch: Callable[[int], list[T]]) -> Iterator[list[T]]:
    """The tasks still to do, a batch at a time: ``fetch(after_id)`` gives the next batch after that file id,
    in file id order (empty: none left). A batch is fetched only once the one before it is taken."""
    after = 0
    while batch := fetch(after):
        after = batch[-1].file_id
        yield batch


def by_path(task: PathTask) -> str:
    """A task as a warning names it: the file's path."""
    return os.fsdecode(task.path)


def record_batches(
    db: Database,
    job: Job,
    outcomes: Iterable[Sequence[tuple[T, R | str | None]]],
    record: Callable[[Database, Batch[T, R]], Sequence[tuple[T, str]]],
    *,
    log: logging.Logger,
    describe: Callable[[T], str],
    on_progress: Callable[[int], None] | None = None,
    waiting_is_progress: bool = False,
) -> None:
    """Record each batch of outcomes in one transaction, as the batches come.

    record(db, batch): the job's own writes (inside the transaction, no file I/O) and its report's counts;
    returns the failures to record in ``failures`` (with the job's kind as the stage) and log, one warning
    each, named by *describe*, on *log* (the job's logger). The job row then counts the batch's files
    settled (with *waiting_is_progress*, the waiting ones too) and its failures, and ``on_progress`` gets
    the batch's size once it is committed."""
    for results in outcomes:
        batch = Batch.of(results)
        with db.transaction():
            for task, error in record(db, batch):
                files_db.record_failure(db, source_id=task.source_id, file_id=task.file_id, job_id=job.id,
                                        path=task.relpath, stage=job.kind, error=error)  # fmt: skip
                log.warning("%s: %s: %s", describe(task), job.kind, error)
            settled = len(results) if waiting_is_progress else len(batch.done) + len(batch.failed)
            jobs_db.progress(db, job.id, done=settled, failed=len(batch.failed),
                             error=batch.failed[-1][1] if batch.failed else None)  # fmt: skip
        if on_progress:
            on_progress(len(results))
