"""Phase 1's write path: a first walk builds the secondary indexes of files once at its end (also when
it is interrupted, or at the next scan when it was killed), rows become visible to readers batch by
batch, and a rescan that finds nothing new leaves readers' caches alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.state import generation
from gallerfs.indexer.scanner import scan_source
from tests.dup_helpers import add_source

PROJECT = Path(__file__).resolve().parent.parent


def _tree(root: Path, count: int, per_folder: int = 7) -> Path:
    for i in range(count):
        folder = root / f"f{i // per_folder:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:04d}.jpg").write_bytes(b"\xff\xd8" + i.to_bytes(4, "big"))
    return root


def _indexes(db: Database) -> dict[str, str]:
    return dict(db.tuples("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'files' "
                          "AND sql IS NOT NULL"))  # fmt: skip


@pytest.fixture
def db(tmp_path: Path):
    (tmp_path / "library").mkdir()
    database = Database(tmp_path / "library" / "library.sqlite3")
    yield database
    database.close()


def _source(db: Database, name: str, folder: Path):
    found = sources_db.get_source(db, add_source(db, name, folder))
    assert found is not None
    return found


def test_first_walk_drops_the_deferrable_indexes_and_builds_them_at_its_end(db, tmp_path):
    schema = _indexes(db)
    assert set(files_db.DEFERRABLE_INDEXES) <= set(schema)
    source = _source(db, "photos", _tree(tmp_path / "photos", 45))
    reader = Database(db.path, readonly=True)
    during: list[set[str]] = []
    report = scan_source(db, source, batch_size=10, on_progress=lambda n: during.append(set(_indexes(reader))))
    reader.close()
    assert report.new == 45
    assert during and all(not (seen & set(files_db.DEFERRABLE_INDEXES)) for seen in during)
    assert all("files_by_dir" in seen for seen in during)  # the mount's folder listings stay indexed
    assert _indexes(db) == schema
    assert files_db.deferred_index_names(db) == []
    assert db.integrity_check() == "ok"


def test_rows_reach_readers_batch_by_batch(db, tmp_path):
    source = _source(db, "photos", _tree(tmp_path / "photos", 35))
    reader = Database(db.path, readonly=True)
    seen: list[tuple[int, int]] = []
    scan_source(db, source, batch_size=10, on_progress=lambda n: seen.append(
        (files_db.count_files(reader, source.id), generation(reader))))  # fmt: skip
    reader.close()
    assert [count for count, _ in seen] == [10, 20, 30, 35]
    gens = [g for _, g in seen]
    assert gens == sorted(set(gens))  # every batch told the readers


def test_interrupted_first_walk_still_builds_the_indexes(db, tmp_path):
    schema = _indexes(db)
    source = _source(db, "photos", _tree(tmp_path / "photos", 30))

    def stop(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan_source(db, source, batch_size=10, on_progress=stop)
    assert _indexes(db) == schema
    assert files_db.deferred_index_names(db) == []
    assert files_db.count_files(db, source.id) == 10


KILL_AFTER_FIRST_BATCH = """
import os, sys
from pathlib import Path
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.indexer.scanner import scan_source
db = Database(Path(sys.argv[1]))
scan_source(db, sources_db.list_sources(db)[0], batch_size=10, on_progress=lambda n: os._exit(9))
"""


def test_killed_first_walk_gets_its_indexes_back_at_the_next_scan(db, tmp_path):
    schema = _indexes(db)
    source = _source(db, "photos", _tree(tmp_path / "photos", 30))
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_BATCH, str(db.path)], env=env, timeout=120)
    assert proc.returncode == 9
    assert files_db.count_files(db, source.id) == 10
    assert files_db.deferred_index_names(db) == sorted(files_db.DEFERRABLE_INDEXES)
    assert not set(_indexes(db)) & set(files_db.DEFERRABLE_INDEXES)
    report = scan_source(db, source, batch_size=10)
    assert (report.seen, report.new, report.deleted) == (30, 20, 0)
    assert _indexes(db) == schema
    assert files_db.deferred_index_names(db) == []


def test_a_small_source_added_to_a_big_library_keeps_the_indexes(db, tmp_path):
    schema = _indexes(db)
    scan_source(db, _source(db, "big", _tree(tmp_path / "big", 40)), batch_size=10)
    reader = Database(db.path, readonly=True)
    during: list[set[str]] = []

    def watch(n: int) -> None:
        during.append(set(_indexes(reader)))

    scan_source(db, _source(db, "small", _tree(tmp_path / "small", 25)), batch_size=10, on_progress=watch)
    assert during and all(seen == set(schema) for seen in during)
    # A source bigger than the library was: the indexes go once it has added as many rows as there were.
    during.clear()
    report = scan_source(db, _source(db, "bigger", _tree(tmp_path / "bigger", 90)), batch_size=10,
                         on_progress=watch)  # fmt: skip
    reader.close()
    assert report.new == 90
    assert [bool(seen & set(files_db.DEFERRABLE_INDEXES)) for seen in during] == [True] * 7 + [False] * 2
    assert _indexes(db) == schema


def test_a_rescan_that_finds_nothing_new_leaves_readers_alone(db, tmp_path):
    folder = _tree(tmp_path / "photos", 25)
    source = _source(db, "photos", folder)
    scan_source(db, source, batch_size=10)
    before = generation(db)
    report = scan_source(db, source, batch_size=10)
    assert (report.seen, report.new, report.changed, report.deleted) == (25, 0, 0, 0)
    assert generation(db) == before
    (folder / "f000" / "IMG_0000.jpg").write_bytes(b"\xff\xd8 edited")
    report = scan_source(db, source, batch_size=10)
    assert report.changed == 1
    assert generation(db) > before


def test_a_rescan_records_edits_new_files_and_new_inode_numbers(db, tmp_path):
    folder = _tree(tmp_path / "photos", 25)
    source = _source(db, "photos", folder)
    scan_source(db, source, batch_size=10)
    ids = {bytes(r[1]): r[0] for r in db.tuples("SELECT id, relpath FROM files")}
    edited, renumbered = b"f000/IMG_0000.jpg", b"f001/IMG_0008.jpg"
    (folder / os.fsdecode(edited)).write_bytes(b"\xff\xd8 edited")
    (folder / "f009").mkdir()
    (folder / "f009" / "new.jpg").write_bytes(b"\xff\xd8 new")
    with db.transaction():  # as if the drive came back with other inode numbers
        db.execute("UPDATE files SET inode = inode + 1000000 WHERE relpath = ?", (renumbered,))
    report = scan_source(db, source, batch_size=10)
    assert (report.seen, report.new, report.changed, report.moved, report.deleted) == (26, 1, 1, 0, 0)
    rows = {bytes(r[1]): r[0:1] + r[2:] for r in db.tuples("SELECT id, relpath, size, inode, state FROM files")}
    st = (folder / os.fsdecode(renumbered)).stat()
    assert rows[renumbered][0] == ids[renumbered] and rows[renumbered][2] == st.st_ino
    assert rows[edited][0] == ids[edited] and rows[edited][1] == len(b"\xff\xd8 edited")
    assert rows[b"f009/new.jpg"][3] == "pending"
    assert len(rows) == 26


def test_files_are_found_by_name_through_an_index(db, tmp_path):
    """similar/<name> and copies dropped into albums look files up by name: a seek, not a table scan."""
    scan_source(db, _source(db, "photos", _tree(tmp_path / "photos", 30)))
    assert "files_by_name" in _indexes(db)
    plan = " ".join(str(r[-1]) for r in db.tuples(
        "EXPLAIN QUERY PLAN SELECT f.id FROM files f JOIN sources s ON s.id = f.source_id WHERE f.name = ?",
        (b"IMG_0007.jpg",)))  # fmt: skip
    assert "files_by_name" in plan, plan
    from gallerfs.db.tree import files_named

    assert [os.path.basename(f.relpath) for f in files_named(db, b"IMG_0007.jpg")] == [b"IMG_0007.jpg"]


def test_a_first_walk_checkpoints_less_often_and_puts_the_threshold_back(db, tmp_path):
    from gallerfs.db.connection import BULK_CHECKPOINT_PAGES

    source = _source(db, "photos", _tree(tmp_path / "photos", 25))
    before = db.value("PRAGMA wal_autocheckpoint")
    during: list[int] = []
    scan_source(db, source, batch_size=10, on_progress=lambda n: during.append(db.value("PRAGMA wal_autocheckpoint")))
    assert during == [BULK_CHECKPOINT_PAGES] * 3
    assert db.value("PRAGMA wal_autocheckpoint") == before
    during.clear()
    scan_source(db, source, batch_size=10, on_progress=lambda n: during.append(db.value("PRAGMA wal_autocheckpoint")))
    assert during == [before] * 3  # a rescan writes little: the usual threshold

    def stop(n: int) -> None:
        raise KeyboardInterrupt

    other = _source(db, "other", _tree(tmp_path / "other", 25))
    with pytest.raises(KeyboardInterrupt):
        scan_source(db, other, batch_size=10, on_progress=stop)
    assert db.value("PRAGMA wal_autocheckpoint") == before
