"""One row type per concept in gallerfs.db, and one rule for "this file changed, index it again"."""

from __future__ import annotations

from pathlib import Path

import pytest

from gallerfs.db import albums as album_db
from gallerfs.db import files as files_db
from gallerfs.db import search_history
from gallerfs.db import sources as sources_db
from gallerfs.db import tree
from gallerfs.db.connection import Database


@pytest.fixture
def db(tmp_path: Path):
    with Database(tmp_path / "library.sqlite3") as db:
        source = sources_db.add_source(db, name="photos", path=str(tmp_path).encode(), mount_point=b"/",
                                       fs_uuid=None, fs_type=None, device=1, root_inode=2)  # fmt: skip
        with db.transaction():
            files_db.insert_new(db, source.id, [files_db.ScannedFile(b"a/x.jpg", "image", 10, 5, 6, 7, 8),
                                                files_db.ScannedFile(b"y.png", "image", 20, 9, 9, 7, 9)])  # fmt: skip
        yield db


def _ids(db: Database) -> list[int]:
    return [int(r[0]) for r in db.tuples("SELECT id FROM files ORDER BY relpath")]


def test_an_edit_through_the_mount_requeues_the_file_as_a_scan_would(db: Database) -> None:
    x, _ = _ids(db)
    with db.transaction():
        db.execute("UPDATE files SET state = 'done', content_hash = 'c', partial_hash = 'p', phash = 1, dhash = 2, "
                   "attempts = 3, error = 'e' WHERE id = ?", (x,))  # fmt: skip
    before = tree.generation(db)
    album_db.mark_file_pending(db, x, 11, 50, 60)
    row = files_db.get_file(db, x)
    assert row is not None
    assert (row.size, row.mtime_ns, row.state, row.content_hash) == (11, 50, "pending", None)
    assert (row.relpath, row.kind, row.device, row.inode) == (b"a/x.jpg", "image", 7, 8)  # kept as they were
    assert db.tuples("SELECT ctime_ns, partial_hash, phash, dhash, attempts, error FROM files WHERE id = ?", (x,)) \
        == [(60, None, None, None, 0, None)]  # fmt: skip
    assert tree.generation(db) == before + 1


def test_an_edit_of_a_file_that_left_the_index_changes_nothing(db: Database) -> None:
    before = tree.generation(db)
    album_db.mark_file_pending(db, 9999, 1, 1, 1)
    assert tree.generation(db) == before and files_db.get_file(db, 9999) is None


def test_the_mount_rows_of_some_files_are_the_rows_listings_build(db: Database) -> None:
    x, y = _ids(db)
    rows = tree.file_rows(db, [y, x, 12345, y])
    assert rows == {x: tree.file_row(db, x), y: tree.file_row(db, y)}
    assert rows[x] == tree.FileRow(x, 1, b"x.jpg", 10, 5, 6)
    assert search_history.file_rows is tree.file_rows


def test_a_first_walk_batch_larger_than_one_statement_keeps_walk_order_and_skips_known_paths(db: Database) -> None:
    source_id = sources_db.list_sources(db)[0].id
    names = [f"d{i // 100:03}/n{i:05}.jpg".encode() for i in range(2_345)]  # more rows than one INSERT takes
    batch = [files_db.ScannedFile(n, "image", i, i + 1, i + 2, 7, 1_000 + i) for i, n in enumerate(names)]
    batch.insert(1_500, files_db.ScannedFile(b"y.png", "image", 99, 99, 99, 7, 99))  # already in the index
    with db.transaction():
        files_db.insert_new(db, source_id, batch)
    rows = db.tuples("SELECT relpath, dir, name, size, mtime_ns, ctime_ns, inode FROM files WHERE id > 2 ORDER BY id")
    assert [r[0] for r in rows] == names  # ids follow the walk
    assert rows[1_234] == (names[1_234], b"d012", b"n01234.jpg", 1_234, 1_235, 1_236, 2_234)
    assert files_db.file_by_path(db, source_id, b"y.png").size == 20  # the known row is left as it was
