"""The loop the analysis jobs share (indexer.resumable): the job row's life, batches by file id, and what
each batch records (results, failures, progress)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db import sources as sources_db
from gallerfs.db.analysis import FileTask as Task
from gallerfs.db.connection import Database
from gallerfs.indexer import resumable

log = logging.getLogger(__name__)


@pytest.fixture
def db(tmp_path: Path):
    with Database(tmp_path / "library.sqlite3") as db:
        source = sources_db.add_source(db, name="photos", path=b"/photos", mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=1, root_inode=2)  # fmt: skip
        with db.transaction():
            files_db.insert_new(db, source.id, [files_db.ScannedFile(name, "image", 10, 5, 6, 7, i)
                                                for i, name in enumerate((b"a.jpg", b"b.jpg", b"c.jpg"), 3)])  # fmt: skip
        yield db


def _tasks(db: Database) -> list[Task]:
    rows = db.tuples("SELECT id, source_id, relpath, size, mtime_ns FROM files ORDER BY id")
    return [Task(int(i), int(s), bytes(p), b"/photos", n, m) for i, s, p, n, m in rows]


def test_a_batch_sorts_its_outcomes_into_results_errors_and_files_that_wait() -> None:
    a, b, c, d = (Task(i, 1, b"x", b"/", 1, 1) for i in range(1, 5))
    batch = resumable.Batch.of([(a, [1]), (b, "cannot decode"), (c, None), (d, [])])
    assert batch.done == [(a, [1]), (d, [])]
    assert batch.failed == [(b, "cannot decode")]
    assert batch.waiting == 1


def test_pages_fetch_after_the_last_file_id_until_none_is_left() -> None:
    rows = [Task(i, 1, b"x", b"/", 1, 1) for i in (2, 5, 7, 9, 11)]
    asked = []

    def fetch(after: int) -> list[Task]:
        asked.append(after)
        return [t for t in rows if t.file_id > after][:2]

    assert [[t.file_id for t in page] for page in resumable.pages(fetch)] == [[2, 5], [7, 9], [11]]
    assert asked == [0, 5, 9, 11]


@pytest.mark.parametrize("waiting_is_progress", [False, True])
def test_a_batch_records_its_failures_and_progress_and_the_job_ends_done(db: Database, caplog,
                                                                       waiting_is_progress: bool) -> None:  # fmt: skip
    a, b, c = _tasks(db)
    stored = []
    progressed = []

    def record(db: Database, batch: resumable.Batch[Task, list[int]]) -> list[tuple[Task, str]]:
        assert db.conn.in_transaction  # the job's writes share the batch's transaction
        stored.append(batch)
        return batch.failed

    totals = []
    with caplog.at_level(logging.WARNING), resumable.claimed(db, "test", 3, totals.append) as job:
        assert jobs_db.get_job(db, job.id).total == 3  # type: ignore[union-attr]
        resumable.record_batches(db, job, [[(a, [1, 2]), (b, "cannot decode"), (c, None)]], record, log=log,
                                 describe=resumable.by_path, on_progress=progressed.append,
                                 waiting_is_progress=waiting_is_progress)  # fmt: skip
    assert totals == [3] and progressed == [3]
    assert [(s.done, s.waiting) for s in stored] == [([(a, [1, 2])], 1)]
    row = jobs_db.get_job(db, job.id)
    assert row is not None
    assert (row.state, row.done, row.failed, row.last_error) == ("done", 3 if waiting_is_progress else 2, 1, "cannot decode")
    assert [(f["file_id"], f["stage"], f["error"], f["job_id"]) for f in files_db.failures(db)] == [
        (b.file_id, "test", "cannot decode", job.id)]
    assert [r.getMessage() for r in caplog.records if r.name == __name__] == ["/photos/b.jpg: test: cannot decode"]


def test_only_the_failures_the_job_returns_are_recorded(db: Database) -> None:
    a, b, _ = _tasks(db)
    with resumable.claimed(db, "test", 2) as job:
        resumable.record_batches(db, job, [[(a, "changed meanwhile"), (b, "cannot decode")]],
                                 lambda db, batch: batch.failed[1:], log=log, describe=lambda t: f"file {t.file_id}")  # fmt: skip
    assert [f["file_id"] for f in files_db.failures(db)] == [b.file_id]
    row = jobs_db.get_job(db, job.id)
    assert row is not None and (row.done, row.failed) == (2, 2)


def test_an_exception_fails_the_job_with_its_error_and_is_raised(db: Database) -> None:
    with pytest.raises(KeyboardInterrupt):
        with resumable.claimed(db, "test", 3) as job:
            raise KeyboardInterrupt("stop")
    row = jobs_db.get_job(db, job.id)
    assert row is not None and (row.state, row.last_error) == ("failed", "KeyboardInterrupt: stop")
