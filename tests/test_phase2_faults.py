"""Phase 2 under faults: files that hang or crash their worker, FIFOs, files interrupted again and again.

A hung or crashing decoder is simulated with the worker-side test hooks of
indexer.pipeline (GALLERFS_TEST_HANG_ON / GALLERFS_TEST_CRASH_ON), in real
`gallerfs index` processes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from PIL import Image

from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.paths import LibraryPaths
from gallerfs.indexer.pipeline import TEST_CRASH_ENV, TEST_HANG_ENV, Phase2
from tests.conftest import gallerfs_env, run_gallerfs


def _jpeg(path: Path, color: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (96, 64), color).save(path, "JPEG")


def _index(library: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> dict:
    proc = subprocess.run([sys.executable, "-m", "gallerfs", "index", "--json", *args],
                          env={**gallerfs_env(library), **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _states(library: Path) -> dict[bytes, tuple[str, str | None, int]]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return {bytes(r[0]): (r[1], r[2], r[3]) for r in db.tuples("SELECT relpath, state, error, attempts FROM files")}


def _children_of(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except OSError:
        return set()


def test_hung_and_crashing_files_are_quarantined_and_the_job_finishes(library, tmp_path):
    photos = tmp_path / "photos"
    # One worker: the good files, queued behind the hung one, are done only if the hung worker is replaced.
    _jpeg(photos / "a-stuck.jpg", (10, 20, 30))
    _jpeg(photos / "b-boom.jpg", (30, 20, 10))
    for i in range(4):
        _jpeg(photos / f"c-good{i}.jpg", (i * 50, 90, 40))
    run_gallerfs(library, "config", "set", "workers", "1")
    run_gallerfs(library, "config", "set", "file_timeout_s", "4.5")
    run_gallerfs(library, "config", "set", "file_attempts", "2")
    run_gallerfs(library, "add", str(photos))
    report = _index(library, env={TEST_HANG_ENV: "*-stuck.jpg", TEST_CRASH_ENV: "*-boom.jpg"})
    assert report["processed"] == 6 and report["failed"] == 2

    states = _states(library)
    for i in range(4):
        assert states[f"c-good{i}.jpg".encode()][0] == "done"
    state, error, attempts = states[b"a-stuck.jpg"]
    assert state == "error" and attempts == 2
    assert "timed out after 4.5 s" in error and "quarantined after 2 attempts" in error, error
    state, error, attempts = states[b"b-boom.jpg"]
    assert state == "error" and attempts == 2
    assert "worker crashed (signal 11, SIGSEGV)" in error and "quarantined after 2 attempts" in error, error

    status = json.loads(run_gallerfs(library, "status", "--json", "--failures").stdout)
    failed = {f["path"]: f["error"] for f in status["failure_list"] if f["stage"] == "process"}
    assert set(failed) == {"a-stuck.jpg", "b-boom.jpg"}
    text = run_gallerfs(library, "status", "--failures").stdout
    assert "a-stuck.jpg: process: timed out after 4.5 s" in text
    jobs = json.loads(run_gallerfs(library, "jobs", "--json").stdout)
    assert [j["state"] for j in jobs if j["kind"] == "process"] == ["done"]

    # a plain index leaves quarantined files alone; --retry-failed tries them again (no fault this time)
    assert _index(library)["processed"] == 0
    assert _index(library, "--retry-failed")["processed"] == 2
    states = _states(library)
    assert states[b"a-stuck.jpg"][0] == "done" and states[b"b-boom.jpg"][0] == "done"
    status = json.loads(run_gallerfs(library, "status", "--json", "--failures").stdout)
    assert not [f for f in status["failure_list"] if f["stage"] == "process"]


def test_hung_worker_is_killed_not_left_running(library, tmp_path):
    photos = tmp_path / "photos"
    _jpeg(photos / "stuck.jpg", (1, 2, 3))
    _jpeg(photos / "fine.jpg", (3, 2, 1))
    run_gallerfs(library, "config", "set", "file_timeout_s", "4")
    run_gallerfs(library, "config", "set", "file_attempts", "1")
    run_gallerfs(library, "add", str(photos))
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "index", "--json"],
                            env={**gallerfs_env(library), TEST_HANG_ENV: "stuck.jpg"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:  # every process the indexer's forkserver starts (the workers)
        while not stop.is_set():
            for child in _children_of(proc.pid):
                seen.update(_children_of(child) | {child})
            stop.wait(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        stop.set()
        watcher.join()
    assert proc.returncode == 0, err
    assert json.loads(out)["failed"] == 1
    assert "timed out after 4 s" in _states(library)[b"stuck.jpg"][1]
    assert len(seen) >= 2, seen  # the forkserver and at least one worker were seen
    alive = [pid for pid in seen if os.path.exists(f"/proc/{pid}") and _cmdline(pid).startswith(sys.executable)]
    assert not alive, alive  # the hung worker was killed, and no worker outlives the job


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_file_interrupted_every_time_is_quarantined_without_running(library, tmp_path):
    """An indexer killed (OOM killer, power loss) while a file is in flight, file_attempts times in a row."""
    photos = tmp_path / "photos"
    _jpeg(photos / "killer.jpg", (5, 5, 5))
    _jpeg(photos / "other.jpg", (6, 6, 6))
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index", "--scan-only")
    with Database(library / "library.sqlite3") as db, db.transaction():
        db.execute("UPDATE files SET attempts = 3 WHERE relpath = ?", (b"killer.jpg",))
        db.execute("UPDATE files SET attempts = 2 WHERE relpath = ?", (b"other.jpg",))
    _index(library)
    states = _states(library)
    assert states[b"other.jpg"][0] == "done"
    state, error, _ = states[b"killer.jpg"]
    assert state == "error" and "the indexer was killed while processing this file, 3 attempts" in error
    _index(library, "--retry-failed")
    assert _states(library)[b"killer.jpg"][0] == "done"


def test_fifo_named_like_a_photo_hangs_nothing(library, tmp_path):
    photos = tmp_path / "photos"
    _jpeg(photos / "real.jpg", (9, 9, 9))
    os.mkfifo(photos / "x.jpg")
    os.mkfifo(photos / "noext")
    run_gallerfs(library, "add", str(photos))
    report = _index(library, timeout=120)  # phase 1 skips what is not a regular file, without opening it
    assert set(_states(library)) == {b"real.jpg"}
    assert report["sources"][0]["problems"] == [{"path": "x.jpg", "error": "not a regular file (FIFO), skipped"}]
    status = json.loads(run_gallerfs(library, "status", "--json", "--failures").stdout)
    assert [(f["path"], f["stage"]) for f in status["failure_list"]] == [("x.jpg", "walk")]

    # a file indexed in phase 1 and then replaced by a FIFO: phase 2 refuses it without blocking
    _jpeg(photos / "swapped.jpg", (1, 1, 1))
    run_gallerfs(library, "index", "--scan-only")
    os.unlink(photos / "swapped.jpg")
    os.mkfifo(photos / "swapped.jpg")
    paths = LibraryPaths(library, library / "config.toml")
    with Database(paths.db) as db:
        report = Phase2(db, paths, Settings(workers=1, file_timeout_s=60), None).run()
    assert report.processed == 1 and report.failed == 1
    state, error, _ = _states(library)[b"swapped.jpg"]
    assert state == "error" and "not a regular file" in error


def test_extensionless_and_mislabelled_media_are_indexed_by_content(library, tmp_path, corpus):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (80, 60), (200, 10, 10)).save(photos / "IMG_0001", "JPEG")
    Image.new("RGB", (80, 60), (10, 10, 10)).save(photos / "clip.mp4", "JPEG")
    shutil.copy(corpus / "jcodec" / "zhuker" / "1.mp4", photos / "movie.jpg")
    Image.new("RGB", (70, 50), (10, 200, 10)).save(photos / "download", "PNG")
    Image.new("RGB", (60, 40), (10, 10, 200)).save(photos / "really-a-png.jpg", "PNG")
    (photos / "README").write_text("not a photo\n")
    (photos / "photo.jpg_original").write_bytes((photos / "IMG_0001").read_bytes())  # exiftool backup: named
    run_gallerfs(library, "add", str(photos))
    _index(library)
    states = _states(library)
    assert set(states) == {b"IMG_0001", b"download", b"really-a-png.jpg", b"clip.mp4", b"movie.jpg"}
    assert all(s[0] == "done" for s in states.values()), states
    with Database(library / "library.sqlite3", readonly=True) as db:
        formats = dict(db.tuples("SELECT f.relpath, m.format FROM files f JOIN metadata m ON m.file_id = f.id"))
        kinds = {bytes(r[0]): r[1] for r in db.tuples("SELECT relpath, kind FROM files")}
    formats = {bytes(k): v for k, v in formats.items()}
    assert {k: v for k, v in formats.items() if k != b"movie.jpg"} == {
        b"IMG_0001": "JPEG", b"download": "PNG", b"really-a-png.jpg": "PNG", b"clip.mp4": "JPEG"}
    # what the content is, not what the name says
    assert kinds == {b"IMG_0001": "image", b"download": "image", b"really-a-png.jpg": "image",
                     b"clip.mp4": "image", b"movie.jpg": "video"}  # fmt: skip


def test_ctrl_c_does_not_count_against_the_files_in_flight(library, tmp_path):
    import signal
    import time

    photos = tmp_path / "photos"
    _jpeg(photos / "slow.jpg", (7, 7, 7))
    run_gallerfs(library, "config", "set", "file_attempts", "1")
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index", "--scan-only")
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "index"],
                            env={**gallerfs_env(library), TEST_HANG_ENV: "slow.jpg"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        def workers() -> set[int]:  # the forkserver's children
            return {w for child in _children_of(proc.pid) for w in _children_of(child)}

        while _states(library)[b"slow.jpg"][2] == 0 or not workers():  # until the file is in flight
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.1)
        time.sleep(1)  # let the worker reach the (hooked) decoder: a Ctrl-C at interpreter start-up prints more
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on the terminal: the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    assert _states(library)[b"slow.jpg"][:2] == ("pending", None)
    assert _states(library)[b"slow.jpg"][2] == 0  # the attempt was taken back: not the file's fault
    _index(library)  # with file_attempts = 1 it would be quarantined, had the interrupted run counted
    assert _states(library)[b"slow.jpg"][0] == "done"
