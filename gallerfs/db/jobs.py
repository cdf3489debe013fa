"""The durable job queue: one row per job, with state, progress and the last error.

Work itself is recorded per file (``files.state`` for phase 2, and similar
columns for later stages), so a job killed at any point is resumed by running
it again: :func:`claim` reuses the interrupted row of the same kind and source
instead of starting a new one, and the files already done are not redone.

Jobs run only in the process that holds the indexer lock (``indexer.lock``),
so that lock, not a PID, tells a live job from an interrupted one: a PID can
be reused (after a reboot, typically) by an unrelated process.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, NewType

from gallerfs.db.connection import Database

JobId = NewType("JobId", int)

HEARTBEAT_STALE_S = 60.0

_COLUMNS = (
    "id, kind, source_id, state, total, done, failed, pid, heartbeat_at, created_at, started_at, "
    "finished_at, last_error, params"
)


@dataclass(frozen=True)
class Job:
    id: JobId
    kind: str
    source_id: int | None
    state: str
    total: int
    done: int
    failed: int
    pid: int | None
    heartbeat_at: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    last_error: str | None
    params: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _job(row: tuple[Any, ...]) -> Job:
    values = list(row)
    values[-1] = json.loads(values[-1]) if values[-1] else {}
    return Job(*values)


def get_job(db: Database, job_id: int) -> Job | None:
    rows = db.tuples(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
    return _job(rows[0]) if rows else None


def list_jobs(db: Database, *, limit: int = 50, active_only: bool = False) -> list[Job]:
    where = "WHERE state IN ('queued', 'running')" if active_only else ""
    return [_job(r) for r in db.tuples(f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY id DESC LIMIT ?", (limit,))]


def is_orphaned(job: Job, lock_holder: int | None) -> bool:
    """A 'running' job whose process is gone (killed, crashed, machine rebooted).

    lock_holder: the PID holding the indexer lock (``indexer.lock.lock_holder``), 0 when it is held by a
    process whose PID is not visible here, None when nobody holds it.
    """
    if job.state != "running":
        return False
    if lock_holder is None:
        return True
    return lock_holder != 0 and job.pid != lock_holder


def claim(db: Database, kind: str, source_id: int | None = None, params: dict[str, Any] | None = None) -> Job:
    """Start a job of this kind, resuming an interrupted one when there is one.

    Call only while holding the indexer lock: no other process can then be running a job, so a row still
    'running' was left by a process that died, whatever its PID now belongs to, and is resumed.
    """
    now = time.time()
    with db.transaction():
        rows = db.tuples(
            f"SELECT {_COLUMNS} FROM jobs WHERE kind = ? AND source_id IS ? AND state IN ('queued', 'running') "
            "ORDER BY id DESC LIMIT 1",
            (kind, source_id),
        )
        job = _job(rows[0]) if rows else None
        if job is not None:
            db.execute(
                "UPDATE jobs SET state = 'running', pid = ?, heartbeat_at = ?, started_at = coalesce(started_at, ?), "
                "last_error = CASE WHEN state = 'running' AND pid IS NOT ? THEN 'resumed after the process was interrupted' "
                "ELSE last_error END WHERE id = ?",
                (os.getpid(), now, now, os.getpid(), job.id),
            )
            job_id = job.id
        else:
            db.execute(
                "INSERT INTO jobs (kind, source_id, state, pid, heartbeat_at, created_at, started_at, params) "
                "VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (kind, source_id, os.getpid(), now, now, now, json.dumps(params or {})),
            )
            job_id = JobId(db.last_rowid())
    found = get_job(db, job_id)
    assert found is not None
    return found


def progress(db: Database, job_id: int, *, total: int | None = None, done: int = 0, failed: int = 0,
             error: str | None = None) -> None:  # fmt: skip
    """Add finished units (and failures) to a job; call inside the batch's transaction."""
    db.execute(
        "UPDATE jobs SET total = coalesce(?, total), done = done + ?, failed = failed + ?, heartbeat_at = ?, "
        "last_error = coalesce(?, last_error) WHERE id = ?",
        (total, done, failed, time.time(), error, job_id),
    )


def set_total(db: Database, job_id: int, total: int) -> None:
    db.execute("UPDATE jobs SET total = ?, heartbeat_at = ? WHERE id = ?", (total, time.time(), job_id))


def finish(db: Database, job_id: int, state: str = "done", error: str | None = None) -> None:
    with db.transaction():
        db.execute(
            "UPDATE jobs SET state = ?, finished_at = ?, pid = NULL, last_error = coalesce(?, last_error) "
            "WHERE id = ?",
            (state, time.time(), error, job_id),
        )
