"""The terminal review: its key handling on a real library, and the real command in a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gallerfs.cli.duplicates_review import Review
from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.indexer.duplicates.remove import trash_copy
from gallerfs.indexer.duplicates.sets import find_sets
from tests.dup_helpers import ROOT, add_source, scan, store


def _library(tmp_path: Path) -> tuple[Path, Path, dict[str, int]]:
    main = tmp_path / "main"
    data1, data2 = os.urandom(9000), os.urandom(7000)
    for rel, data in (("a/one.jpg", data1), ("b/one.jpg", data1), ("c/deep/one.jpg", data1),
                      ("two.jpg", data2), ("x/two.jpg", data2)):  # fmt: skip
        (main / rel).parent.mkdir(parents=True, exist_ok=True)
        (main / rel).write_bytes(data)
    lib = tmp_path / "lib"
    lib.mkdir()
    with Database(lib / "library.sqlite3") as db:
        sid = add_source(db, "main", main)
        ids = scan(db, sid, main)
        for rel, file_id in ids.items():
            store(db, file_id, main / rel)
    return lib, main, ids


def test_review_keys_on_a_real_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    lib, main, ids = _library(tmp_path)
    settings = Settings()
    with Database(lib / "library.sqlite3") as db:
        sets = find_sets(db, settings)
        state = Review(sets, trash=lambda i, s: trash_copy(db, settings, i, s),
                       keep=lambda i, others: dupdb.set_keeper(db, i, others))  # fmt: skip
        screen = state.render()
        assert (
            "set 1/2" in screen
            and "[q] quit" in screen
            and "[t] trash the others (then y)" in screen
        )
        assert "a/one.jpg" in screen and "9.0 KB" in screen
        # Moving around never deletes anything.
        for key in (b"n", b"p", b"j", b"k", b"\x1b[C", b"\x1b[D", b"3", b"s", b"p"):
            assert state.handle(key)
        assert all((main / rel).exists() for rel in ids)
        # t then anything but y cancels.
        state.handle(b"2")
        state.handle(b"t")
        assert "press y to confirm" in state.render()
        state.handle(b"x")
        assert "not trashed" in state.render()
        assert all((main / rel).exists() for rel in ids)
        # Choose copy 2 (b/one.jpg) as keeper, trash the others with t, y.
        state.index = 0
        state.handle(b"2")
        chosen = state.current.members[1]
        state.handle(b"t")
        state.handle(b"y")
        survivors = [
            rel
            for rel in ("a/one.jpg", "b/one.jpg", "c/deep/one.jpg")
            if (main / rel).exists()
        ]
        assert survivors == [os.fsdecode(chosen.relpath)]
        assert "trashed" in state.render()
        assert len(list((tmp_path / "xdg/Trash/info").iterdir())) == 2
        # The keeper choice was stored; the other set is untouched.
        assert dupdb.keeper_choices(db).keys() == {chosen.id}
        assert (main / "two.jpg").exists() and (main / "x/two.jpg").exists()
        assert not state.handle(b"q")


def _read_until(fd: int, needle: bytes, timeout: float = 60) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while needle not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"{needle!r} not shown; screen was:\n{buf[-2000:].decode(errors='replace')}"
            )
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf


def test_review_command_in_a_terminal(tmp_path: Path) -> None:
    lib, main, _ = _library(tmp_path)
    master, slave = pty.openpty()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        TERM="xterm",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gallerfs", "--library", str(lib), "duplicates", "review", "--exact"],
        stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    try:
        _read_until(master, b"[q] quit")
        os.write(master, b"\x1b[C")  # right arrow: next set
        _read_until(master, b"set 2/2")
        os.write(master, b"\x1b")  # left arrow, split across two writes as over a slow link
        time.sleep(0.02)
        os.write(master, b"[D")
        _read_until(master, b"set 1/2")
        os.write(master, b"t")
        _read_until(master, b"press y to confirm")
        os.write(master, b"y")
        _read_until(master, b"trashed so far")
        os.write(master, b"q")
        out = _read_until(master, b"to the trash")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert b"moved" in out
    # The suggested keeper of the first set (largest reclaimable: the three 9 KB copies) stays: shortest path.
    assert (main / "a/one.jpg").exists()
    assert not (main / "b/one.jpg").exists() and not (main / "c/deep/one.jpg").exists()
    assert (main / "two.jpg").exists() and (main / "x/two.jpg").exists()


def test_review_never_trashes_the_only_full_resolution_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from tests.dup_helpers import CORPORA

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    main = tmp_path / "main"
    main.mkdir()
    with Image.open(CORPORA / "exif" / "exif-samples" / "jpg" / "exif-org" / "nikon-e950.jpg") as im:
        photo = im.convert("RGB")
    photo.save(main / "original.jpg", quality=95)
    photo.resize((photo.width // 2, photo.height // 2)).save(main / "half.jpg", quality=85)
    settings = Settings()
    with Database(tmp_path / "library.sqlite3") as db:
        sid = add_source(db, "main", main)
        ids = scan(db, sid, main)
        for rel, file_id in ids.items():
            store(db, file_id, main / rel, phash=0x0F0F_0F0F_0F0F_0F0F, dhash=0x55)
        [near] = find_sets(db, settings)
        state = Review([near], trash=lambda i, s: trash_copy(db, settings, i, s),
                       keep=lambda i, others: dupdb.set_keeper(db, i, others))  # fmt: skip
        half = next(k for k, m in enumerate(near.members) if m.relpath == b"half.jpg")
        state.handle(str(half + 1).encode())  # keep the half-size copy, trash the others
        state.handle(b"t")
        state.handle(b"y")
        assert (main / "original.jpg").exists() and (main / "half.jpg").exists()
        assert "only full-resolution copy" in state.render()
