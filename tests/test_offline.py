"""Unplugging a drive for real: its files go offline, never deleted; plugging it back brings them online."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from gallerfs.db.connection import Database


def _photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (64, 48), (i * 40 % 256, 100, 50)).save(folder / f"p{i}.jpg", "JPEG")


def test_unplugged_drive_is_offline_not_deleted(library, cli, loop_drive):
    mnt, plug, unplug = loop_drive
    _photos(mnt / "DCIM", 5)
    cli("add", str(mnt / "DCIM"), "--name", "usb")
    cli("index")
    db = Database(library / "library.sqlite3", readonly=True)
    assert db.value("SELECT count(*) FROM files WHERE state = 'done'") == 5
    unplug()
    assert not (mnt / "DCIM").exists()
    out = json.loads(cli("rescan", "--json").stdout)
    assert out["sources"][0]["online"] is False and out["sources"][0]["deleted"] == 0
    assert db.value("SELECT count(*) FROM files") == 5
    sources = json.loads(cli("sources", "--json").stdout)
    assert sources[0]["online"] is False and "not mounted" in sources[0]["offline_reason"]
    # the empty mount-point folder left behind must not look like "all photos deleted"
    (mnt / "DCIM").mkdir()
    out = json.loads(cli("rescan", "--json").stdout)
    assert out["sources"][0]["online"] is False and db.value("SELECT count(*) FROM files") == 5
    status = json.loads(cli("status", "--json").stdout)
    assert status["offline_files"] == 5
    (mnt / "DCIM").rmdir()
    plug()
    out = json.loads(cli("rescan", "--json").stdout)
    assert out["sources"][0]["online"] is True and out["sources"][0]["deleted"] == 0
    assert json.loads(cli("sources", "--json").stdout)[0]["online"] is True
    assert db.value("SELECT count(*) FROM files") == 5
    # thumbnails and metadata were kept all along
    assert db.value("SELECT count(*) FROM metadata") == 5


def test_emptied_folder_needs_allow_empty(library, cli, tmp_path):
    folder = tmp_path / "pics"
    _photos(folder, 3)
    cli("add", str(folder))
    cli("index")
    for p in folder.iterdir():
        p.unlink()
    out = json.loads(cli("rescan", "--json").stdout)
    assert out["sources"][0]["online"] is False and "empty" in out["sources"][0]["offline_reason"]
    db = Database(library / "library.sqlite3", readonly=True)
    assert db.value("SELECT count(*) FROM files") == 3
    out = json.loads(cli("rescan", "--allow-empty", "--json").stdout)
    assert out["sources"][0]["deleted"] == 3
    assert db.value("SELECT count(*) FROM files") == 0


def test_rescan_reconciles_moves_edits_and_deletions(library, cli, tmp_path):
    folder = tmp_path / "pics"
    _photos(folder, 4)
    cli("add", str(folder))
    cli("index")
    db = Database(library / "library.sqlite3", readonly=True)
    ids = {bytes(r[1]): r[0] for r in db.tuples("SELECT id, relpath FROM files")}
    (folder / "sub").mkdir()
    (folder / "p0.jpg").rename(folder / "sub" / "moved.jpg")  # same inode
    shutil.copy2(folder / "p1.jpg", tmp_path / "p1.jpg")  # cross-device style move: new inode, same bytes
    (folder / "p1.jpg").unlink()
    shutil.copy2(tmp_path / "p1.jpg", folder / "copied-back.jpg")
    Image.new("RGB", (80, 60), (1, 2, 3)).save(folder / "p2.jpg", "JPEG")  # edited
    (folder / "p3.jpg").unlink()
    _photos(folder / "new", 1)
    out = json.loads(cli("rescan", "--json").stdout)["sources"][0]
    assert (out["moved"], out["changed"], out["deleted"], out["new"]) == (2, 1, 1, 1)
    now = {bytes(r[1]): r[0] for r in db.tuples("SELECT id, relpath FROM files")}
    assert now[b"sub/moved.jpg"] == ids[b"p0.jpg"]
    assert now[b"copied-back.jpg"] == ids[b"p1.jpg"]
    assert now[b"p2.jpg"] == ids[b"p2.jpg"]
    assert b"p3.jpg" not in now
    assert db.value("SELECT width FROM metadata WHERE file_id = ?", (ids[b"p2.jpg"],)) == 80
