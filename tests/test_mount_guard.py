"""A gallerfs mount and a source never overlap (DESIGN.md §6): mount inside, over or around a source is
refused, a folder inside a mount is never added, and a scan never descends into a live mount."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

from gallerfs.db.connection import Database
from gallerfs.errors import EXIT_OVERLAP
from gallerfs.mountguard import gallerfs_mounts
from gallerfs.indexer.scanner import GALLERFS_MOUNT, ScannedFile, WalkProblem, walk
from tests.conftest import gallerfs_env
from tests.mountutil import Mount, force_unmount, wait_until


def _jpeg(path: Path, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (shade, 40, 200)).save(path, "JPEG")
    return path


def _refused(proc, *words: str) -> None:
    assert proc.returncode == EXIT_OVERLAP, (proc.returncode, proc.stdout, proc.stderr)
    message = proc.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message, message
    for word in words:
        assert word in message, message


def test_mount_inside_equal_to_or_around_a_source_is_refused(library, cli, tmp_path):
    home = tmp_path / "home"
    photos = home / "Photos"
    _jpeg(photos / "a.jpg")
    cli("add", str(photos))
    cli("index", "--scan-only")
    (photos / "Photos.gfs").mkdir()
    link = tmp_path / "via-link"
    link.symlink_to(photos / "Photos.gfs")
    try:
        _refused(cli("mount", str(photos / "Photos.gfs"), check=False), "inside", "Photos")
        _refused(cli("mount", str(photos), check=False), "is source")
        _refused(cli("mount", str(home), check=False), "contains")
        _refused(cli("mount", str(link), check=False), "inside")  # found through the symlink too
    finally:  # had one been accepted, it would be up in the background
        for point in (photos / "Photos.gfs", photos, home):
            force_unmount(point)
    (home / "Photos.gfs").mkdir()  # beside the source: fine
    with Mount(library, home / "Photos.gfs") as m:
        assert (Path(m.path) / "sources").is_dir()
    # nothing was indexed from a mount point folder, nothing changed
    assert json.loads(cli("rescan", "--json").stdout)["sources"][0]["seen"] == 1


def test_add_inside_a_gallerfs_mount_is_refused(library, cli, tmp_path):
    photos = tmp_path / "photos"
    _jpeg(photos / "a.jpg")
    cli("add", str(photos))
    cli("index", "--scan-only")
    with Mount(library, tmp_path / "gfs") as m:
        for inside in (m.path, m.path / "sources", m.path / "sources" / "photos"):
            _refused(cli("add", str(inside), "--name", "virtual", check=False), "gallerfs mount")
    sources = json.loads(cli("sources", "--json").stdout)
    assert [s["name"] for s in sources] == ["photos"]


def test_a_scan_never_descends_into_a_live_gallerfs_mount(library, cli, tmp_path):
    first = tmp_path / "first"
    _jpeg(first / "one.jpg")
    cli("add", str(first))
    cli("index")
    outer = tmp_path / "outer"
    _jpeg(outer / "two.jpg", 10)
    _jpeg(outer / "sub" / "three.jpg", 20)
    with Mount(library, outer / "Library.gfs") as m:
        assert str(m.path).encode() in gallerfs_mounts().points
        cli("add", str(outer))  # containing a mount is allowed: scans skip it
        report = json.loads(cli("rescan", "--json").stdout)
        outer_report = next(s for s in report["sources"] if s["source"] == "outer")
        assert outer_report["seen"] == 2 and outer_report["new"] == 2, outer_report
        assert [(p["path"], p["error"]) for p in outer_report["problems"]] == [("Library.gfs", GALLERFS_MOUNT)]
        walked = list(walk(str(outer).encode()))
        assert sorted(i.relpath for i in walked if isinstance(i, ScannedFile)) == [b"sub/three.jpg", b"two.jpg"]
        assert [i.relpath for i in walked if isinstance(i, WalkProblem)] == [b"Library.gfs"]
        # a source that is itself inside a mount (e.g. a hand-edited library) is never read
        assert list(walk(str(m.path / "sources").encode())) == [WalkProblem(b"", GALLERFS_MOUNT, True)]
    db = Database(library / "library.sqlite3", readonly=True)
    relpaths = sorted(bytes(r[0]) for r in db.tuples("SELECT relpath FROM files"))
    db.close()
    assert relpaths == [b"one.jpg", b"sub/three.jpg", b"two.jpg"]


def test_watch_never_walks_into_a_gallerfs_mount_inside_a_source(library, cli, tmp_path):
    first = tmp_path / "first"
    _jpeg(first / "one.jpg")
    cli("add", str(first))
    outer = tmp_path / "outer"
    _jpeg(outer / "two.jpg", 10)
    with Mount(library, outer / "Library.gfs"):
        cli("add", str(outer))
        proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        db = Database(library / "library.sqlite3", readonly=True)
        try:
            assert wait_until(lambda: db.value("SELECT count(*) FROM jobs WHERE kind = 'scan' AND state = 'done'")
                              >= 2, 60)  # fmt: skip
            time.sleep(1.0)  # the watches are set up after the first scan
            relpaths = sorted(bytes(r[0]) for r in db.tuples("SELECT relpath FROM files"))
        finally:
            db.close()
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
    assert proc.returncode == 0, err
    assert relpaths == [b"one.jpg", b"two.jpg"]
    assert "contains the gallerfs mount" in err and "not watched live" in err, err
