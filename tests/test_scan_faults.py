"""Rescans under real faults keep every row: only a file whose own stat answers ENOENT, on a source
online before and after the walk, is forgotten. Faults come from tests/faultfs.py (a FUSE passthrough
that fails or hangs chosen paths), a loop-mounted ext4 drive that is lazily unmounted mid-walk, and a
folder that is readable but not searchable by a user without CAP_DAC_OVERRIDE."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gallerfs.db.connection import Database
from tests.conftest import gallerfs_env, loop_drive_at
from tests.faultfs import FaultFS
from tests.test_indexing import _unprivileged


def _jpeg(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (shade, 255 - shade, (shade * 7) % 256)).save(path, "JPEG", quality=85)
    return path


def _photos(root: Path) -> dict[str, Path]:
    names = ["trip/t1.jpg", "trip/t2.jpg", "trip/t3.jpg", "trip/inner/t4.jpg", "home/h1.jpg", "zz/z1.jpg"]
    return {n: _jpeg(root / n, 20 + 30 * i) for i, n in enumerate(names)}


def _state(library: Path) -> dict[str, object]:
    """Every row that a lost file would take with it: files (by id), album members, favourites."""
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        return {
            "files": sorted((r[0], bytes(r[1])) for r in db.tuples("SELECT id, relpath FROM files")),
            "albums": sorted(db.tuples("SELECT a.name, af.file_id FROM album_files af JOIN albums a ON a.id = af.album_id")),
            "favourites": sorted(r[0] for r in db.tuples("SELECT file_id FROM favourites")),
        }  # fmt: skip
    finally:
        db.close()


def _walk_failures(cli) -> dict[str, tuple[int | None, str]]:
    listed = json.loads(cli("status", "--failures", "--json").stdout)["failure_list"]
    return {f["path"]: (f["file_id"], f["error"]) for f in listed if f["stage"] == "walk"}


def _rescan(cli) -> dict:
    return json.loads(cli("rescan", "--json").stdout)["sources"][0]


def _albums_and_favourites(cli, root: Path, files: dict[str, Path]) -> None:
    cli("album", "create", "Trip")
    cli("album", "add", "Trip", *(str(root / n) for n in ("trip/t1.jpg", "trip/t2.jpg", "trip/inner/t4.jpg")))
    cli("favourite", str(root / "trip/t3.jpg"), str(root / "home/h1.jpg"), str(root / "zz/z1.jpg"))


FAULTS = {
    # every file of trip/ is listed, but its stat fails: the case that used to delete them
    "stat": lambda fault: [{"path": "trip/*", "ops": ["lookup", "getattr"], "fault": fault}],
    # trip/ itself cannot be listed
    "opendir": lambda fault: [{"path": "trip", "ops": ["opendir"], "fault": fault}],
}


@pytest.mark.parametrize("where", sorted(FAULTS))
@pytest.mark.parametrize("fault", ["EIO", "EACCES"])
def test_io_errors_mid_walk_keep_every_row_album_and_favourite(library, cli, tmp_path, fault, where):
    disk = tmp_path / "disk"
    files = _photos(disk)
    with FaultFS(disk, tmp_path / "mnt") as ffs:
        cli("add", str(ffs.path), "--name", "disk")
        cli("index")
        _albums_and_favourites(cli, ffs.path, files)
        before = _state(library)
        assert len(before["files"]) == 6 and len(before["albums"]) == 3 and len(before["favourites"]) == 3

        ffs.set(FAULTS[where](fault))
        files["zz/z1.jpg"].unlink()  # a real deletion in the same walk: still forgotten
        report = _rescan(cli)
        assert report["online"] and report["deleted"] == 1, report
        after = _state(library)
        gone_id = next(i for i, p in before["files"] if p == b"zz/z1.jpg")
        assert after["files"] == [f for f in before["files"] if f[0] != gone_id]
        assert after["albums"] == before["albums"]
        assert after["favourites"] == [i for i in before["favourites"] if i != gone_id]
        failures = _walk_failures(cli)
        message = os.strerror(getattr(errno, fault))
        if where == "stat":
            marked = {p: v for p, v in failures.items() if p.startswith("trip/") and v[0] is not None}
            ids = {p.decode(): i for i, p in before["files"]}
            assert set(marked) == {"trip/t1.jpg", "trip/t2.jpg", "trip/t3.jpg"}, failures
            for path, (file_id, error) in marked.items():
                assert file_id == ids[path] and message in error, (path, error)
            assert report["kept_unreadable"] == 3
        else:
            assert "trip" in failures and message in failures["trip"][1], failures

        ffs.set([])  # the drive reads again
        report = _rescan(cli)
        assert report["deleted"] == 0 and report["new"] == 0 and report["kept_unreadable"] == 0, report
        assert _state(library) == after
        assert not [p for p in _walk_failures(cli) if p.startswith("trip")]


def test_unplug_during_walk_of_20k_files_keeps_every_row(library, cli, tmp_path):
    with loop_drive_at(tmp_path / "drive.img", tmp_path / "drive", size="512M") as (drive, plug, unplug):
        dcim = drive / "DCIM"
        for d in range(40):
            folder = dcim / f"d{d:02}"
            folder.mkdir(parents=True)
            for i in range(500):
                (folder / f"IMG_{d * 500 + i:05}.jpg").write_bytes(b"\xff\xd8 not decoded in this test")
        with FaultFS(drive, tmp_path / "ffs") as ffs:
            cli("add", str(ffs.path / "DCIM"), "--name", "card")
            cli("index", "--scan-only")
            db = Database(library / "library.sqlite3")
            with db.transaction():  # as if phase 2 had run: the rescans below only walk
                db.execute("UPDATE files SET state = 'done'")
            db.close()
            members = [ffs.path / "DCIM" / f"d{d:02}" / f"IMG_{d * 500 + 250 + k:05}.jpg" for d in (5, 20, 39)
                       for k in range(2)]  # fmt: skip
            cli("album", "create", "Card")
            cli("album", "add", "Card", *map(str, members))
            cli("favourite", *map(str, members[::2]))
            before = _state(library)
            assert len(before["files"]) == 20_000 and len(before["albums"]) == 6

            # Hang the walk half-way through d20 (after its listing), pull the drive, then let it go on.
            ffs.set([{"path": "DCIM/d20/IMG_10100.jpg", "ops": ["lookup", "getattr"], "fault": "hang"}])
            proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "rescan", "--json"],
                                    env=gallerfs_env(library), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)  # fmt: skip
            try:
                hung = ffs.wait_hung(60)
                assert {path for _, path in hung} == {"DCIM/d20/IMG_10100.jpg"}, hung
                subprocess.run(["umount", "-l", str(drive)], check=True)  # unplugged while being walked
                ffs.set([])
                out, err = proc.communicate(timeout=300)
            finally:
                ffs.set([])  # a failed assertion must not leave the rescan hung
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=60)
            assert proc.returncode == 0, err
            report = json.loads(out)["sources"][0]
            assert report["deleted"] == 0 and report["moved"] == 0 and not report["online"], report
            assert _state(library) == before

            plug()  # plugged back: everything is there again, nothing to forget
            report = _rescan(cli)
            assert report["online"] and report["seen"] == 20_000 and report["deleted"] == 0, report
            assert report["new"] == 0 and report["failures"] == 0, report
            assert _state(library) == before


def test_folder_readable_but_not_searchable_without_dac_override(library, cli, tmp_path):
    photos = tmp_path / "photos"
    files = _photos(photos)
    cli("add", str(photos))
    cli("index")
    _albums_and_favourites(cli, photos, files)
    before = _state(library)
    (photos / "trip").chmod(0o644)  # names can be listed, files cannot be stat-ed
    try:
        proc = subprocess.run(_unprivileged([sys.executable, "-m", "gallerfs", "rescan", "--json"]),
                              env=gallerfs_env(library), capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)["sources"][0]
    finally:
        (photos / "trip").chmod(0o755)
    assert report["deleted"] == 0 and report["kept_unreadable"] == 3, report
    assert _state(library) == before
    failures = _walk_failures(cli)
    for name in ("trip/t1.jpg", "trip/t2.jpg", "trip/t3.jpg"):
        assert failures[name][0] is not None and "Permission denied" in failures[name][1], failures
    assert "trip/inner" in failures  # a folder that could not be entered
    report = _rescan(cli)
    assert report["deleted"] == 0 and report["failures"] == 0 and report["kept_unreadable"] == 0, report
    assert _state(library) == before
    assert _walk_failures(cli) == {}
    shown = json.loads(cli("album", "show", "Trip", "--json").stdout)
    assert len(shown) == 3, shown


def test_library_stays_writable_while_a_rescan_reads_a_hung_file(library, cli, tmp_path):
    """The rescan hashes a possible move (same size as a vanished file) without the write lock: while
    that read hangs, another process writes to the library (the mount's album mkdir does the same)."""
    disk = tmp_path / "disk"
    files = _photos(disk)
    with FaultFS(disk, tmp_path / "mnt") as ffs:
        cli("add", str(ffs.path), "--name", "disk")
        cli("index")
        _albums_and_favourites(cli, ffs.path, files)
        before = _state(library)
        moved_id = next(i for i, p in before["files"] if p == b"trip/t1.jpg")
        # copied elsewhere and the original removed: a new inode, found again by its content hash
        (disk / "kept").mkdir()
        (disk / "kept" / "t1-copy.jpg").write_bytes(files["trip/t1.jpg"].read_bytes())
        files["trip/t1.jpg"].unlink()
        ffs.set([{"path": "kept/t1-copy.jpg", "ops": ["read"], "fault": "hang"}])
        proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "rescan", "--json"], env=gallerfs_env(library),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            ffs.wait_hung(60)
            made = cli("album", "create", "Written meanwhile", check=False, timeout=120)
            assert made.returncode == 0, made.stderr  # was "database is locked" once the busy timeout ran out
            ffs.set([])
            out, err = proc.communicate(timeout=300)
        finally:
            ffs.set([])  # a failed assertion must not leave the rescan hung
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
        assert proc.returncode == 0, err
        report = json.loads(out)["sources"][0]
        assert report["moved"] == 1 and report["deleted"] == 0 and report["new"] == 0, report
        after = _state(library)
        assert dict((i, p) for i, p in after["files"])[moved_id] == b"kept/t1-copy.jpg"
        assert after["albums"] == before["albums"]  # the album follows the photo to its new place
        assert "Written meanwhile" in cli("album", "list").stdout
