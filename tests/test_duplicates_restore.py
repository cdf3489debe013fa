"""Restoring a trashed copy (``gallerfs duplicates restore``, the viewer's undo): back where it was, with its id
and metadata, never over a file that took its place."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.indexer.duplicates.remove import LastCopyError, trash_copy
from gallerfs.indexer.duplicates.restore import NotRestorableError, last_trashed, restore_trashed
from gallerfs.indexer.duplicates.review import trash_others, library_actions
from gallerfs.indexer.duplicates.sets import find_sets
from tests.dup_helpers import add_source, gallerfs, scan, store


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (tmp_path / "lib").mkdir()
    db = Database(tmp_path / "lib" / "library.sqlite3")
    yield db
    db.close()


def _pair(db: Database, tmp_path: Path) -> tuple[Path, dict[str, int], bytes]:
    main = tmp_path / "main"
    (main / "sub").mkdir(parents=True)
    data = os.urandom(20_000)
    (main / "a.jpg").write_bytes(data)
    (main / "sub" / "a copy.jpg").write_bytes(data)
    sid = add_source(db, "main", main)
    ids = scan(db, sid, main)
    for rel, fid in ids.items():
        store(db, fid, main / rel, phash=0x1234, metadata={"width": 640, "height": 480, "make": "Canon",
                                                          "taken_at": "2024-07-14T09:00:00"})  # fmt: skip
    return main, ids, data


def test_restore_puts_the_copy_back_with_its_id_and_metadata(library: Database, tmp_path: Path) -> None:
    db, settings = library, Settings()
    main, ids, data = _pair(db, tmp_path)
    copy_id = ids["sub/a copy.jpg"]
    out = trash_copy(db, settings, copy_id)
    os.rmdir(main / "sub")  # the folder went too: it is made again
    assert dupdb.file_info(db, copy_id) is None
    assert find_sets(db, settings, near=False) == []

    record = last_trashed(db)
    assert record is not None and record.id == out.record_id
    back = restore_trashed(db, settings, record.id)
    assert back.file_id == copy_id and back.path == os.fsencode(main / "sub" / "a copy.jpg")
    assert (main / "sub" / "a copy.jpg").read_bytes() == data
    assert not os.path.lexists(out.trash_path) and not os.path.lexists(out.trashinfo_path)
    info = dupdb.file_info(db, copy_id)
    assert info is not None and (info.width, info.height, info.make, info.phash) == (640, 480, "Canon", 0x1234)
    assert info.content_hash is not None
    [s] = find_sets(db, settings, near=False)
    assert sorted(m.id for m in s.members) == sorted(ids.values())
    assert last_trashed(db) is None and dupdb.trash_records(db)[0].restored_at is not None

    with pytest.raises(NotRestorableError, match="restored already"):
        restore_trashed(db, settings, record.id)
    with pytest.raises(NotRestorableError, match="no trash record 999"):
        restore_trashed(db, settings, 999)


def test_restore_never_replaces_a_file_and_checks_the_trash(library: Database, tmp_path: Path) -> None:
    db, settings = library, Settings()
    main, ids, data = _pair(db, tmp_path)
    out = trash_copy(db, settings, ids["sub/a copy.jpg"])
    (main / "sub" / "a copy.jpg").write_bytes(b"a new file took its place")
    with pytest.raises(NotRestorableError, match="something is at that path now"):
        restore_trashed(db, settings, out.record_id)
    assert (main / "sub" / "a copy.jpg").read_bytes() == b"a new file took its place"
    assert Path(os.fsdecode(out.trash_path)).read_bytes() == data  # still in the trash
    os.unlink(main / "sub" / "a copy.jpg")

    Path(os.fsdecode(out.trash_path)).write_bytes(os.urandom(20_000))  # another file under that trash name
    with pytest.raises(NotRestorableError, match="no longer the file that was trashed"):
        restore_trashed(db, settings, out.record_id)
    os.unlink(out.trash_path)
    with pytest.raises(NotRestorableError, match="no longer in the trash"):
        restore_trashed(db, settings, out.record_id)
    assert not (main / "sub" / "a copy.jpg").exists()


def test_trash_others_keeps_the_chosen_copy_and_refuses_the_last(library: Database, tmp_path: Path) -> None:
    db, settings = library, Settings()
    main, ids, _ = _pair(db, tmp_path)
    [s] = find_sets(db, settings, near=False)
    trash, keep = library_actions(db, settings)
    done = trash_others(s, ids["sub/a copy.jpg"], trash, keep)
    assert [m.id for m in done.remaining.members] == [ids["sub/a copy.jpg"]]
    assert [m.id for m, _ in done.trashed] == [ids["a.jpg"]] and not done.refused
    assert not (main / "a.jpg").exists() and (main / "sub" / "a copy.jpg").exists()
    with pytest.raises(LastCopyError):
        trash_copy(db, settings, ids["sub/a copy.jpg"])


def test_cli_restore_defaults_to_the_last_trashed(library: Database, tmp_path: Path) -> None:
    db, settings = library, Settings()
    main, ids, data = _pair(db, tmp_path)
    trash_copy(db, settings, ids["a.jpg"])
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    listed = json.loads(gallerfs(db.path.parent, "duplicates", "trashed", "--json", env=env).stdout)
    assert listed[0]["restored_at"] is None
    proc = gallerfs(db.path.parent, "duplicates", "restore", env=env)
    assert "restored" in proc.stdout and (main / "a.jpg").read_bytes() == data
    again = gallerfs(db.path.parent, "duplicates", "restore", env=env, check=False)
    assert again.returncode == 1 and "nothing to restore" in again.stderr
    assert "(restored)" in gallerfs(db.path.parent, "duplicates", "trashed", env=env).stdout
