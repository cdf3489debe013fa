"""Phase 1's walk in a child process: the same batches as the walk in this process (odd names, problems),
a walk handed over from the thread to the child part way, and a child that fails, dies or is no longer
wanted: an error or a kill, never a walk that looks complete."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from gallerfs.db.files import ScannedFile
from gallerfs.indexer import walk_process
from gallerfs.indexer.scanner import WalkProblem, walk_batches
from gallerfs.indexer.walk_process import WalkChild, WalkProcessError, process_batches
from tests.conftest import gallerfs_env, run_gallerfs

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)


def _scanned(fields: tuple) -> ScannedFile:
    return ScannedFile(*fields)


def _odd_tree(parent: Path) -> bytes:
    """A source whose own path, and names in it, are not UTF-8, hold a newline or are 255 bytes long,
    with problems to report (a FIFO named like a photo, a dangling link, a symlink loop)."""
    root = os.fsencode(parent) + b"/ph\xf6tos\nroot"
    for folder in (b"", b"/a", b"/a/deep", b"/caf\xe9", b"/z"):
        os.makedirs(root + folder, exist_ok=True)
        for i in range(7):
            with open(root + folder + b"/img%d.jpg" % i, "wb") as f:
                f.write(JPEG)
    for name in (b"caf\xe9\n.jpg", b"L" * 251 + b".jpg", b"new\nline.JPG"):
        with open(root + b"/caf\xe9/" + name, "wb") as f:
            f.write(JPEG)
    os.mkfifo(root + b"/a/pipe.jpg")
    os.symlink(b"missing.jpg", root + b"/z/dangling.jpg")
    os.symlink(b"loop", root + b"/z/loop")
    os.symlink(b"../a", root + b"/z/back-to-a")  # a folder met before: a walk handed over must know it
    return root


def _flat(batches: list[tuple[list, list]]) -> tuple[list, list]:
    return [f for files, _ in batches for f in files], [p for _, problems in batches for p in problems]


def _many(root: Path, count: int, per_folder: int = 100) -> None:
    for i in range(count):
        folder = root / f"d{i // per_folder:04}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"{i:06}-{'n' * 80}.jpg").touch()


class Recorded(WalkChild):
    """A WalkChild that remembers every child started, so that a test can see what became of it."""

    started: list[WalkChild] = []

    def __init__(self, pipe_bytes: int = walk_process.PIPE_BYTES) -> None:
        super().__init__(pipe_bytes)
        Recorded.started.append(self)


class Patient(Recorded):
    """A child that the walk's thread waits for: the walk is handed over at the first folder past the
    threshold, however long the child takes to start (the walk does not wait for it otherwise)."""

    def poll_ready(self) -> bool:
        select.select([self.proc.stdout], [], [], 30)
        return super().poll_ready()


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WalkChild]]:
    Recorded.started = []
    monkeypatch.setattr(walk_process, "WalkChild", Recorded)
    yield Recorded.started


@pytest.fixture
def patient(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[WalkChild]]:
    Recorded.started = []
    monkeypatch.setattr(walk_process, "WalkChild", Patient)
    yield Recorded.started


def _gone(child: WalkChild) -> bool:
    """The child has exited and been reaped (no process, not even a zombie, is left)."""
    return child.proc.returncode is not None and not os.path.exists(f"/proc/{child.pid}")


@pytest.mark.parametrize("size", [1, 3, 2000])
def test_the_child_yields_the_walks_batches_exactly(tmp_path: Path, size: int):
    root = _odd_tree(tmp_path)
    expected = list(walk_batches(root, size))
    assert _flat(expected)[1], "the tree has problems to report"
    got = list(process_batches(root, size, _scanned))
    assert got == expected
    files = {f.relpath for f in _flat(got)[0]}
    assert {b"caf\xe9/caf\xe9\n.jpg", b"caf\xe9/" + b"L" * 251 + b".jpg", b"caf\xe9/new\nline.JPG"} <= files
    problems = {p.relpath: p.error for p in _flat(got)[1]}
    assert problems[b"a/pipe.jpg"] == "not a regular file (FIFO), skipped"
    assert problems[b"z/back-to-a"] == "symlink loop (points to a folder already walked), not followed"
    assert set(problems) == {b"a/pipe.jpg", b"z/dangling.jpg", b"z/loop", b"z/back-to-a"}


def test_a_root_that_cannot_be_walked_is_one_problem_as_in_this_process(tmp_path: Path):
    root = os.fsencode(tmp_path) + b"/not\xffthere"
    assert list(process_batches(root, 10, _scanned)) == list(walk_batches(root, 10))
    assert list(process_batches(root, 10, _scanned)) == [([], [WalkProblem(b"", os.strerror(2), True)])]


@pytest.mark.parametrize("hand_over_at", [1, 8, 20])  # after the root, in a, after a/deep (before z)
def test_a_walk_handed_over_part_way_finds_what_one_walk_finds(tmp_path: Path, patient, hand_over_at: int):
    root = _odd_tree(tmp_path)
    expected = list(walk_batches(root, 4))
    got = list(walk_process.walk_batches(root, 4, _scanned, hand_over_at=hand_over_at))
    assert _flat(got) == _flat(expected)
    assert all(len(files) <= 4 for files, _ in got)
    assert len(patient) == 1 and patient[0].finished and _gone(patient[0])


def test_a_small_walk_stays_on_its_thread(tmp_path: Path, recorded):
    root = _odd_tree(tmp_path)
    assert list(walk_process.walk_batches(root, 4, _scanned)) == list(walk_batches(root, 4))
    assert recorded == []


def test_a_child_not_needed_in_the_end_is_not_left_behind(tmp_path: Path, recorded):
    root = _odd_tree(tmp_path)
    got = list(walk_process.walk_batches(root, 4, _scanned, hand_over_at=1))
    assert _flat(got) == _flat(list(walk_batches(root, 4)))
    assert len(recorded) == 1 and _gone(recorded[0])  # walked to the end on the thread, or by the child


def test_a_walk_goes_on_in_this_process_when_no_child_can_start(tmp_path: Path, monkeypatch):
    def cannot_start(*args: object, **kwargs: object) -> WalkChild:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(walk_process, "WalkChild", cannot_start)
    root = _odd_tree(tmp_path)
    got = list(walk_process.walk_batches(root, 4, _scanned, hand_over_at=1))
    assert _flat(got) == _flat(list(walk_batches(root, 4)))


class DiesWhenReady(Patient):
    """A child that is killed once it is ready, before the thread hands it the walk."""

    def poll_ready(self) -> bool:
        ready = super().poll_ready()
        if ready:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(30)
        return ready


def test_a_child_that_dies_before_it_takes_over_leaves_the_walk_to_the_thread(tmp_path: Path, monkeypatch):
    Recorded.started = []
    monkeypatch.setattr(walk_process, "WalkChild", DiesWhenReady)
    root = _odd_tree(tmp_path)
    got = list(walk_process.walk_batches(root, 4, _scanned, hand_over_at=1))
    assert _flat(got) == _flat(list(walk_batches(root, 4)))
    assert len(Recorded.started) == 1 and _gone(Recorded.started[0])


def test_an_exception_in_the_child_is_an_error_here(tmp_path: Path):
    child = WalkChild()
    try:
        child.send("a str, where the child expects the bytes of a path", 10, None)  # type: ignore[arg-type]
        with pytest.raises(WalkProcessError, match=r"^walking a str, .*: the walk failed in its process: TypeError: rstrip arg"):
            list(child.batches(_scanned))
    finally:
        child.kill()
    assert _gone(child)


def test_a_child_killed_mid_walk_is_an_error_never_the_end_of_the_walk(tmp_path: Path):
    _many(tmp_path / "photos", 1000)
    child = WalkChild(pipe_bytes=4096)  # its output (~150 kB) cannot all be written ahead
    try:
        child.send(os.fsencode(tmp_path / "photos"), 1, None)
        batches = child.batches(_scanned)
        assert len(next(batches)[0]) == 1
        os.kill(child.pid, signal.SIGKILL)
        got = 1
        with pytest.raises(WalkProcessError, match=r"^walking .*/photos: the walk process ended .*\(killed by signal 9\)$"):
            for _ in batches:
                got += 1
        assert got < 1000
    finally:
        child.kill()


def test_a_child_gone_before_its_first_batch_is_an_error(tmp_path: Path):
    child = WalkChild()
    try:
        while not child.poll_ready():
            select.select([child.proc.stdout], [], [], 30)
        os.kill(child.pid, signal.SIGKILL)
        child.proc.wait(30)
        with pytest.raises(WalkProcessError, match=r"ended before it read what to walk|before the walk was complete"):
            child.send(os.fsencode(tmp_path), 10, None)
            list(child.batches(_scanned))
    finally:
        child.kill()
    assert _gone(child)


@pytest.mark.parametrize("how", ["close", "exception"])
def test_a_consumer_that_stops_early_kills_the_child(tmp_path: Path, recorded, how: str):
    _many(tmp_path / "photos", 1000)
    batches = process_batches(os.fsencode(tmp_path / "photos"), 1, _scanned, pipe_bytes=4096)
    next(batches)
    if how == "close":
        batches.close()
    else:
        with pytest.raises(RuntimeError):
            for _ in batches:
                raise RuntimeError("the database write failed")
        del batches
    assert len(recorded) == 1 and not recorded[0].finished and _gone(recorded[0])
    assert recorded[0].proc.returncode == -signal.SIGKILL


def test_a_consumer_that_stops_after_a_hand_over_kills_the_child(tmp_path: Path, patient):
    _many(tmp_path / "photos", 3000)
    batches = walk_process.walk_batches(os.fsencode(tmp_path / "photos"), 1, _scanned, hand_over_at=1,
                                        pipe_bytes=4096)  # fmt: skip
    for count, _ in enumerate(batches):
        if count == 2000:  # past the thread's few batches ahead: these come from the child
            break
    batches.close()
    assert len(patient) == 1 and not patient[0].finished and _gone(patient[0])


_UNPRIVILEGED_WALK = """
import json, os, sys
from gallerfs.indexer.walk_process import process_batches
root = os.fsencode(sys.argv[1])
problems = [(os.fsdecode(p.relpath), p.error) for _, ps in process_batches(root, 50, tuple) for p in ps]
print(json.dumps(problems))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="drops root's capabilities with setpriv")
def test_the_child_walks_with_the_credentials_of_its_parent(tmp_path: Path):
    root = tmp_path / "photos"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "hidden.jpg").write_bytes(JPEG)
    os.chmod(root / "locked", 0)
    try:
        proc = subprocess.run(
            ["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", _UNPRIVILEGED_WALK,
             str(root)],
            env=gallerfs_env(tmp_path), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.chmod(root / "locked", 0o755)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [["locked", f"cannot read folder: {os.strerror(13)}"]]


def test_index_and_rescan_of_a_large_source_through_the_cli(library: Path, tmp_path: Path):
    """Large enough that the walk moves to its child process (on any but a very busy machine)."""
    photos = tmp_path / "photos"
    _many(photos, 30_000, per_folder=500)
    run_gallerfs(library, "add", str(photos))
    report = json.loads(run_gallerfs(library, "index", "--scan-only", "--json").stdout)["sources"][0]
    assert (report["seen"], report["new"], report["failures"]) == (30_000, 30_000, 0)
    for name in sorted(os.listdir(photos / "d0031"))[:10]:
        os.unlink(photos / "d0031" / name)
    os.rename(photos / "d0059", photos / "moved")
    report = json.loads(run_gallerfs(library, "index", "--scan-only", "--json").stdout)["sources"][0]
    assert (report["seen"], report["deleted"], report["moved"], report["new"]) == (29_990, 10, 500, 0)
