"""gallerfs watch follows creates, edits, moves and deletions within seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from gallerfs.db.connection import Database
from tests.conftest import gallerfs_env, run_gallerfs


def _wait_for(predicate, timeout: float = 10.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError("condition not met within %.0f s" % timeout)


@pytest.fixture
def watching(library: Path, tmp_path: Path):
    folder = tmp_path / "pics"
    folder.mkdir()
    Image.new("RGB", (64, 48), (9, 9, 9)).save(folder / "first.jpg", "JPEG")
    run_gallerfs(library, "add", str(folder))
    run_gallerfs(library, "index")
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        _wait_for(lambda: db.value("SELECT count(*) FROM jobs WHERE kind = 'scan' AND state = 'done'") >= 2, 30)
        time.sleep(0.5)  # the observer starts after the initial scan
        yield folder, db, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        db.close()
    assert proc.returncode == 0, err


def _rows(db: Database) -> dict[bytes, tuple[int, str]]:
    return {bytes(r[0]): (r[1], r[2]) for r in db.tuples("SELECT relpath, id, state FROM files")}


def test_watch_follows_changes(watching):
    folder, db, proc = watching
    first_id = _rows(db)[b"first.jpg"][0]
    # create
    Image.new("RGB", (100, 50), (200, 0, 0)).save(folder / "new.jpg", "JPEG")
    took = _wait_for(lambda: _rows(db).get(b"new.jpg", (0, ""))[1] == "done")
    assert took < 4, took
    assert db.value("SELECT width FROM metadata m JOIN files f ON f.id = m.file_id WHERE f.relpath = ?",
                    (b"new.jpg",)) == 100  # fmt: skip
    # modify in place: same row, phase 2 redone
    new_id = _rows(db)[b"new.jpg"][0]
    time.sleep(0.05)
    Image.new("RGB", (30, 20), (0, 200, 0)).save(folder / "new.jpg", "JPEG")
    _wait_for(lambda: db.value("SELECT width FROM metadata WHERE file_id = ?", (new_id,)) == 30)
    # move (rename into a new folder): the row, and its id, follow
    (folder / "sub").mkdir()
    os.rename(folder / "first.jpg", folder / "sub" / "renamed.jpg")
    _wait_for(lambda: b"sub/renamed.jpg" in _rows(db) and b"first.jpg" not in _rows(db))
    assert _rows(db)[b"sub/renamed.jpg"][0] == first_id
    # folder rename
    os.rename(folder / "sub", folder / "album")
    _wait_for(lambda: b"album/renamed.jpg" in _rows(db))
    assert _rows(db)[b"album/renamed.jpg"][0] == first_id
    # editor-style save: write a temp file, rename over the photo
    Image.new("RGB", (44, 33), (0, 0, 200)).save(folder / ".new.jpg.tmp", "JPEG")
    os.replace(folder / ".new.jpg.tmp", folder / "new.jpg")
    _wait_for(lambda: db.value("SELECT width FROM metadata m JOIN files f ON f.id = m.file_id "
                               "WHERE f.relpath = ? AND f.state = 'done'", (b"new.jpg",)) == 44)  # fmt: skip
    # delete
    (folder / "new.jpg").unlink()
    _wait_for(lambda: b"new.jpg" not in _rows(db))
    assert proc.poll() is None


def test_watch_embeds_new_photos_when_a_model_is_installed(library, tmp_path):
    from tests import clipmodel

    folder = tmp_path / "pics"
    folder.mkdir()
    clipmodel.colour_photo(folder / "green.jpg", "green", 1)
    model_files = tmp_path / "model-files"
    manifest = clipmodel.write_model_dir(model_files)
    run_gallerfs(library, "add", str(folder))
    run_gallerfs(library, "models", "import", str(model_files), "--manifest", str(manifest))
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        embedded = "SELECT count(*) FROM embeddings WHERE state = 'done'"
        _wait_for(lambda: db.value(embedded) == 1, 30)  # the initial scan, phase 2, then vectors
        clipmodel.colour_photo(folder / "red.jpg", "red", 2)
        _wait_for(lambda: db.value(embedded) == 2, 15)
        proc_search = run_gallerfs(library, "search", "red", "--json")
        hits = json.loads(proc_search.stdout)
        assert hits and hits[0]["path"].endswith("red.jpg")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        db.close()
    assert proc.returncode == 0


def test_watch_skips_fifos_and_sniffs_extensionless_files(watching):
    folder, db, proc = watching
    os.mkfifo(folder / "pipe.jpg")
    Image.new("RGB", (40, 30), (1, 100, 1)).save(folder / "IMG_0002", "JPEG")
    Image.new("RGB", (40, 30), (100, 1, 1)).save(folder / "after.jpg", "JPEG")
    _wait_for(lambda: _rows(db).get(b"after.jpg", (0, ""))[1] == "done" and
              _rows(db).get(b"IMG_0002", (0, ""))[1] == "done", 20)  # fmt: skip
    assert b"pipe.jpg" not in _rows(db)
    assert proc.poll() is None  # the watcher did not block on the FIFO
