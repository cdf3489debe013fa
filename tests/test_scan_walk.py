"""Phase 1's walk, a folder at a time: what it yields for awkward entries, how it regroups folders into
batches of one transaction each, and the thread that runs it ahead of the writes."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from gallerfs.db.files import ScannedFile
from gallerfs.indexer.ahead import run_ahead
from gallerfs.indexer.scanner import WalkProblem, walk, walk_batches, walk_folders
from gallerfs.mountguard import GallerfsMounts

NO_MOUNTS = GallerfsMounts(frozenset(), frozenset())
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


def _awkward_tree(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    (root / "a" / "IMG_1.JPG").write_bytes(JPEG)
    (root / "a" / "notes.txt").write_text("not media")
    (root / "a" / ".hidden.jpg").write_bytes(JPEG)
    (root / "a" / "camera-dump").write_bytes(JPEG)  # no extension: sniffed by content
    (root / "a" / "nested").mkdir()
    (root / "a" / "nested" / "deep.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    os.mkfifo(root / "a" / "pipe.jpg")
    long_name = b"x" * 251 + b".jpg"
    odd = os.fsencode(root) + b"/b"
    os.mkdir(odd)
    with open(odd + b"/caf\xe9\n.jpg", "wb") as f:  # not UTF-8, with a newline
        f.write(JPEG)
    with open(odd + b"/" + long_name, "wb") as f:
        f.write(JPEG)
    (root / "@eaDir").mkdir()
    (root / "@eaDir" / "thumb.jpg").write_bytes(JPEG)
    os.symlink(root / "a" / "IMG_1.JPG", root / "link.jpg")  # a link to a file is indexed like the file
    os.symlink(root / "a", root / "a-again")  # a second way into a folder: walked once
    os.symlink(root / "missing.jpg", root / "dangling.jpg")
    os.symlink(root / "loop", root / "loop")
    os.symlink(root / "loop.jpg", root / "loop.jpg")


def test_every_awkward_entry_gets_the_answer_it_had_one_at_a_time(tmp_path: Path):
    root = tmp_path / "photos"
    _awkward_tree(root)
    items = list(walk(os.fsencode(root), NO_MOUNTS))
    files = {i.relpath: i for i in items if isinstance(i, ScannedFile)}
    problems = {i.relpath: i.error for i in items if isinstance(i, WalkProblem)}
    assert set(files) == {
        b"a/IMG_1.JPG", b"a/camera-dump", b"a/nested/deep.png", b"b/caf\xe9\n.jpg", b"b/" + b"x" * 251 + b".jpg",
        b"link.jpg",
    }  # fmt: skip
    st = (root / "a" / "IMG_1.JPG").stat()
    assert files[b"link.jpg"][2:] == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)
    assert files[b"a/IMG_1.JPG"] == files[b"link.jpg"]._replace(relpath=b"a/IMG_1.JPG")
    assert files[b"a/nested/deep.png"].kind == "image"
    assert problems[b"a/pipe.jpg"] == "not a regular file (FIFO), skipped"
    assert problems[b"dangling.jpg"] == os.strerror(2)
    assert problems[b"loop"] == problems[b"loop.jpg"] == os.strerror(errno.ELOOP)
    assert problems[b"a-again"] == "symlink loop (points to a folder already walked), not followed"
    assert set(problems) == {b"a/pipe.jpg", b"dangling.jpg", b"loop", b"loop.jpg", b"a-again"}


def test_folders_come_whole_in_name_order(tmp_path: Path):
    root = tmp_path / "photos"
    for folder in ("b", "a", "a/z", "c"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in ("3.jpg", "1.jpg", "2.jpg"):
            (root / folder / name).write_bytes(JPEG)
    folders = [[f.relpath for f in files] for files, _ in walk_folders(os.fsencode(root), NO_MOUNTS)]
    assert [f for f in folders if f] == [
        [b"a/1.jpg", b"a/2.jpg", b"a/3.jpg"], [b"a/z/1.jpg", b"a/z/2.jpg", b"a/z/3.jpg"],
        [b"b/1.jpg", b"b/2.jpg", b"b/3.jpg"], [b"c/1.jpg", b"c/2.jpg", b"c/3.jpg"],
    ]  # fmt: skip


def test_batches_hold_exactly_the_batch_size_and_problems_never_more(tmp_path: Path):
    root = tmp_path / "photos"
    for d in range(7):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(d * 3):  # folders of 0, 3, 6, ... 18 files
            (root / f"d{d}" / f"{i:02}.jpg").write_bytes(JPEG)
        for i in range(d):
            os.symlink(root / f"nowhere{i}", root / f"d{d}" / f"broken{i}.jpg")
    batches = list(walk_batches(os.fsencode(root), 5, NO_MOUNTS))
    sizes = [len(files) for files, _ in batches]
    assert sum(sizes) == 63 and all(n == 5 for n in sizes[:-1]) and 0 < sizes[-1] <= 5, sizes
    assert all(len(problems) <= 5 for _, problems in batches)
    walked = [f.relpath for files, _ in batches for f in files]
    assert walked == [f.relpath for f in walk(os.fsencode(root), NO_MOUNTS) if isinstance(f, ScannedFile)]
    assert sorted(p.relpath for _, problems in batches for p in problems) == sorted(
        f"d{d}/broken{i}.jpg".encode() for d in range(7) for i in range(d))  # fmt: skip


def test_run_ahead_yields_everything_in_order_and_raises_where_the_error_was():
    def items():
        yield from range(100)
        raise OSError(5, "Input/output error")

    got = []
    with pytest.raises(OSError, match="Input/output"):
        for x in run_ahead(items(), depth=3):
            got.append(x)
    assert got == list(range(100))


def test_run_ahead_stops_its_thread_when_the_caller_stops():
    pulled = []

    def items():
        for i in range(10_000):
            pulled.append(i)
            yield i

    ahead = run_ahead(items(), depth=2, name="test-ahead")
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    deadline = time.monotonic() + 10
    while any(t.name == "test-ahead" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "test-ahead" for t in threading.enumerate())
    assert len(pulled) <= 3 + 2 + 2  # what was taken, what the queue held, and the item in the thread's hands


def test_a_producer_stuck_in_a_system_call_does_not_hold_up_the_caller():
    release = threading.Event()

    def items():
        yield "first"
        release.wait(60)  # a stat on a hung disk
        yield "late"

    ahead = run_ahead(items(), depth=1, name="test-stuck")
    assert next(ahead) == "first"
    started = time.monotonic()
    ahead.close()  # what an exception or Ctrl-C in the caller does
    assert time.monotonic() - started < 5
    release.set()
