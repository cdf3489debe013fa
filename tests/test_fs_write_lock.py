"""Writes through the mount and the library's write lock: they get through a busy indexer, and a lock
held for good ends in EBUSY (logged), never EIO."""

from __future__ import annotations

import errno
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import apsw
import pytest

from gallerfs.db.connection import Database
from gallerfs.errors import EXIT_LOCKED, LibraryBusyError
from gallerfs.fs.fuseutil import WRITE_WAIT_MS
from gallerfs.paths import DB_NAME
from tests.conftest import gallerfs_env
from tests.mountutil import Mount, build_library, run_gallerfs, wait_until

GENERATED = 20_000


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_library(tmp_path_factory.mktemp("writelock"))


@pytest.fixture(scope="module")
def mnt(lib: tuple[Path, Path]) -> Iterator[Mount]:
    library, _ = lib
    with Mount(library, library.parent / "mnt") as m:
        yield m


class HeldLock:
    """``BEGIN IMMEDIATE`` on the library from this process: what a writer that never lets go looks like."""

    def __init__(self, library: Path) -> None:
        self.conn = apsw.Connection(str(library / DB_NAME))

    def __enter__(self) -> HeldLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_a_lock_held_past_the_bound_gives_ebusy_then_the_write_succeeds(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, _ = lib
    album = mnt.path / "by-album" / "Locked"
    with HeldLock(library):
        started = time.monotonic()
        with pytest.raises(OSError) as exc:
            os.mkdir(album)
        waited = time.monotonic() - started
    assert exc.value.errno in (errno.EBUSY, errno.EAGAIN), exc.value
    assert waited >= WRITE_WAIT_MS / 1000 * 0.9, "it waits for the lock before giving up"
    assert "refused with EBUSY" in mnt.log_text() and "locked by another process" in mnt.log_text()
    os.mkdir(album)  # the lock is gone: the same write goes through
    assert "Locked" in os.listdir(mnt.path / "by-album")


def test_a_lock_held_briefly_is_waited_for(mnt: Mount, lib: tuple[Path, Path]) -> None:
    library, _ = lib
    lock = HeldLock(library).__enter__()
    threading.Timer(WRITE_WAIT_MS / 1000 / 4, lock.__exit__).start()
    os.mkdir(mnt.path / "by-album" / "Waited")  # blocks until the timer lets go, then succeeds
    assert "Waited" in os.listdir(mnt.path / "by-album")


def test_the_database_layer_raises_a_typed_busy_error(lib: tuple[Path, Path]) -> None:
    library, _ = lib
    db = Database(library / DB_NAME, busy_timeout_ms=200)
    try:
        with HeldLock(library), pytest.raises(LibraryBusyError) as exc:
            with db.transaction():
                pass
        assert exc.value.exit_code == EXIT_LOCKED and "locked by another process" in str(exc.value)
        with db.transaction():  # and the connection is usable afterwards
            pass
    finally:
        db.close()


def _tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def test_fifty_album_operations_succeed_while_index_runs(mnt: Mount, lib: tuple[Path, Path], tmp_path: Path) -> None:
    library, photos = lib
    refusals = mnt.log_text().count("refused with EBUSY")
    generated = tmp_path / "generated"
    jpeg = _tiny_jpeg()
    for d in range(GENERATED // 1000):
        folder = generated / f"{d:02d}"
        folder.mkdir(parents=True)
        for i in range(1000):
            (folder / f"g{i:04d}.jpg").write_bytes(jpeg + b"%d-%d" % (d, i))  # distinct files
    run_gallerfs(library, "add", "--name", "generated", str(generated))
    index = subprocess.Popen([sys.executable, "-m", "gallerfs", "index"], env=gallerfs_env(library),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        # the walk has started writing: the indexer is holding the write lock on and off from here
        assert wait_until(lambda: b"generated" in os.listdir(mnt.p("sources")) or index.poll() is not None, 30)
        cams = mnt.path / "sources" / "photos" / "cams"
        done = 0
        for r in range(10):
            album = mnt.path / "by-album" / f"Busy{r}"
            os.mkdir(album)
            shutil.copyfile(cams / "Canon_40D.jpg", album / "Canon_40D.jpg")
            os.link(cams / "Pentax_K10D.jpg", album / "Pentax_K10D.jpg")
            os.unlink(album / "Canon_40D.jpg")
            os.rename(album, mnt.path / "by-album" / f"Kept{r}")
            done += 5
        still_indexing = index.poll() is None
    finally:
        if index.poll() is None:
            index.send_signal(signal.SIGINT)
        try:
            index.wait(timeout=60)
        except subprocess.TimeoutExpired:
            index.kill()
            index.wait()
    assert done == 50
    assert still_indexing, "index finished before the album operations: the test proves nothing"
    names = os.listdir(mnt.path / "by-album")
    assert all(f"Kept{r}" in names and f"Busy{r}" not in names for r in range(10))
    assert all(os.listdir(mnt.path / "by-album" / f"Kept{r}") == ["Pentax_K10D.jpg"] for r in range(10))
    assert mnt.log_text().count("refused with EBUSY") == refusals
