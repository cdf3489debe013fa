"""Trashing copies: never the last one, never when the other copies are on an unplugged drive."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.indexer import trash as trash_mod
from gallerfs.indexer.duplicates.remove import LastCopyError, NotTrashableError, trash_copy
from gallerfs.indexer.duplicates.sets import find_sets
from tests.conftest import loop_drive_at
from tests.dup_helpers import ROOT, add_source, scan, store


@pytest.fixture
def drive(tmp_path: Path):
    with loop_drive_at(tmp_path / "usb.img", tmp_path / "usb", size="16M") as d:
        yield d


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (tmp_path / "lib").mkdir()
    db = Database(tmp_path / "lib" / "library.sqlite3")
    yield db
    db.close()


def _put(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_trash_keeps_a_verified_copy_across_drives(
    library: Database, tmp_path: Path, drive
) -> None:
    db, settings = library, Settings()
    usb, plug, unplug = drive
    main = tmp_path / "main"
    a, b, c = os.urandom(150_000), os.urandom(3000), os.urandom(5000)
    _put(main / "a.jpg", a)
    _put(usb / "DCIM/a.jpg", a)
    _put(main / "b.jpg", b)
    _put(main / "sub/b copy.jpg", b)
    _put(main / "c.jpg", c)
    _put(usb / "DCIM/c.jpg", c)
    main_id = add_source(db, "main", main)
    usb_id = add_source(db, "usb", usb / "DCIM")
    ids = {("main", k): v for k, v in scan(db, main_id, main).items()}
    ids.update({("usb", k): v for k, v in scan(db, usb_id, usb / "DCIM").items()})
    for (src, rel), file_id in ids.items():
        store(db, file_id, (main if src == "main" else usb / "DCIM") / rel)

    sets = find_sets(db, settings, near=False)
    assert sorted(
        sorted((m.source_name, os.fsdecode(m.relpath)) for m in s.members) for s in sets
    ) == [
        [("main", "a.jpg"), ("usb", "a.jpg")],
        [("main", "b.jpg"), ("main", "sub/b copy.jpg")],
        [("main", "c.jpg"), ("usb", "c.jpg")],
    ]
    assert sets[0].reclaimable == 150_000  # largest first

    # A copy on the home filesystem goes to $XDG_DATA_HOME/Trash.
    out = trash_copy(db, settings, ids[("main", "sub/b copy.jpg")])
    assert not (main / "sub/b copy.jpg").exists()
    assert out.trash_path == os.fsencode(tmp_path / "xdg/Trash/files/b copy.jpg")
    assert trash_mod.read_trashinfo(out.trashinfo_path)[0] == os.fsencode(
        main / "sub/b copy.jpg"
    )
    assert Path(os.fsdecode(out.trash_path)).read_bytes() == b
    assert (
        dupdb.file_info(db, ids[("main", "sub/b copy.jpg")]) is None
    )  # the row is gone
    [record] = dupdb.trash_records(db)
    assert record.original_path == os.fsencode(
        main / "sub/b copy.jpg"
    ) and record.kept_path == os.fsencode(main / "b.jpg")

    # Now b.jpg is the last copy: refused, and it stays.
    with pytest.raises(LastCopyError, match="last remaining copy"):
        trash_copy(db, settings, ids[("main", "b.jpg")])
    assert (main / "b.jpg").exists()

    # A copy on the USB drive goes to that drive's own trash, $topdir/.Trash-$uid, with a relative Path.
    out = trash_copy(db, settings, ids[("usb", "a.jpg")])
    assert out.trash_path == os.fsencode(usb / f".Trash-{os.getuid()}/files/a.jpg")
    info = Path(os.fsdecode(out.trashinfo_path)).read_text()
    assert "Path=DCIM/a.jpg\n" in info
    assert trash_mod.read_trashinfo(out.trashinfo_path)[0] == os.fsencode(
        usb / "DCIM/a.jpg"
    )
    assert (
        os.stat(out.trash_path).st_dev == os.stat(usb).st_dev
    )  # renamed on its device, not copied

    # Unplug the drive: c's other copy can't be verified, so main/c.jpg is refused though the index knows the copy.
    unplug()
    sets = find_sets(db, settings, near=False)
    c_set = [
        s for s in sets if any(os.fsdecode(m.relpath) == "c.jpg" for m in s.members)
    ]
    assert (
        len(c_set) == 1 and len(c_set[0].members) == 2
    )  # the offline copy still counts as a copy
    with pytest.raises(LastCopyError, match="offline .*usb.* cannot be verified"):
        trash_copy(db, settings, ids[("main", "c.jpg")])
    assert (main / "c.jpg").exists()
    with pytest.raises(NotTrashableError) as excinfo:
        trash_copy(db, settings, ids[("usb", "c.jpg")])
    assert excinfo.value.errno == errno.ENOMEDIUM

    # Plugged back in, the copy verifies and the trash is allowed.
    plug()
    trash_copy(db, settings, ids[("main", "c.jpg")])
    assert not (main / "c.jpg").exists() and (usb / "DCIM/c.jpg").exists()


def test_changed_or_same_inode_copies_do_not_count(
    library: Database, tmp_path: Path
) -> None:
    db, settings = library, Settings()
    main = tmp_path / "main"
    d = os.urandom(4000)
    _put(main / "d.jpg", d)
    _put(main / "d2.jpg", d)
    e = _put(main / "e.jpg", os.urandom(4000))
    os.link(e, main / "e_link.jpg")
    sid = add_source(db, "main", main)
    ids = scan(db, sid, main)
    for rel, file_id in ids.items():
        store(db, file_id, main / rel)
    # The other copy was edited since indexing (same size, other bytes): not a copy any more.
    _put(main / "d2.jpg", os.urandom(4000))
    with pytest.raises(LastCopyError):
        trash_copy(db, settings, ids["d.jpg"])
    assert (main / "d.jpg").exists()
    # A hard link is the same file: trashing one name would not leave an independent copy.
    with pytest.raises(LastCopyError):
        trash_copy(db, settings, ids["e.jpg"])
    assert (main / "e.jpg").exists()


def test_a_trash_that_cannot_be_used_leaves_everything_in_place(
    library: Database, tmp_path: Path
) -> None:
    db, settings = library, Settings()
    main = tmp_path / "main"
    data = os.urandom(3000)
    _put(main / "f.jpg", data)
    _put(main / "g.jpg", data)
    sid = add_source(db, "main", main)
    ids = scan(db, sid, main)
    _put(
        tmp_path / "xdg" / "Trash", b"not a folder"
    )  # a broken trash: the move must not happen
    with pytest.raises(NotTrashableError, match="cannot move .* to the trash"):
        trash_copy(db, settings, ids["g.jpg"])
    assert (main / "g.jpg").read_bytes() == data
    assert (
        dupdb.file_info(db, ids["g.jpg"]) is not None and dupdb.trash_records(db) == []
    )


def test_two_trashers_at_once_never_take_both_copies(
    library: Database, tmp_path: Path
) -> None:
    """Each copy of a pair trashed at the same moment from two processes: exactly one goes."""
    db = library
    main = tmp_path / "main"
    data = os.urandom(
        96 << 20
    )  # big enough that verifying (hashing both copies) takes a while
    _put(main / "one.mov", data)
    _put(main / "two.mov", data)
    sid = add_source(db, "main", main)
    ids = scan(db, sid, main)
    for rel, file_id in ids.items():
        store(db, file_id, main / rel)
    env = dict(os.environ, PYTHONPATH=str(ROOT), XDG_DATA_HOME=str(tmp_path / "xdg"))
    lib = str(db.path.parent)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gallerfs",
                "--library",
                lib,
                "duplicates",
                "trash",
                str(main / name),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one.mov", "two.mov")
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in results) == [0, 1], results
    assert len([p for p in main.iterdir() if p.suffix == ".mov"]) == 1
    assert len(dupdb.trash_records(db)) == 1
