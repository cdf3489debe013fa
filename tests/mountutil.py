"""Helpers for tests that mount a real gallerfs: a library built with the real CLI, and a mount that always goes away.

``Mount`` starts ``gallerfs mount -f`` in a subprocess, waits until the kernel
shows the mount (while checking the process is alive), and on exit unmounts
with ``fusermount3 -u``, then ``-u -z``, then terminates and kills: a failing
test never leaves a mount behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tests.conftest import EXIF_CORPUS, gallerfs_env, run_gallerfs

JPG = EXIF_CORPUS / "exif-samples" / "jpg"
VIDEO = EXIF_CORPUS / "gopro" / "max-heromode.mp4"
NO_DATE_MTIME = 1551700800  # 2019-03-04 12:00 UTC (a file without a date taken is filed by its mtime)
NON_UTF8 = b"caf\xe9.jpg"


def make_photos(root: Path) -> Path:
    """A small photo tree with the traps the mount must handle. Returns its folder."""
    photos = root / "photos"
    (photos / "trip" / "a").mkdir(parents=True)
    (photos / "trip" / "b").mkdir(parents=True)
    (photos / "cams").mkdir()
    (photos / "odd").mkdir()
    (photos / "videos").mkdir()
    for name in ("Canon_40D.jpg", "Pentax_K10D.jpg", "Kodak_CX7530.jpg", "Canon_PowerShot_S40.jpg"):
        shutil.copyfile(JPG / name, photos / "cams" / name)
    # Two different files with the same name and the same date taken: by-date must show both.
    shutil.copyfile(JPG / "Canon_40D.jpg", photos / "trip" / "a" / "IMG_0001.jpg")
    data = (JPG / "Canon_40D.jpg").read_bytes() + b"\x00trailing bytes make this a different file"
    (photos / "trip" / "b" / "IMG_0001.jpg").write_bytes(data)
    undated = photos / "odd" / "undated.jpg"
    shutil.copyfile(JPG / "Reconyx_HC500_Hyperfire.jpg", undated)
    os.utime(undated, (NO_DATE_MTIME, NO_DATE_MTIME))
    shutil.copyfile(JPG / "Kodak_CX7530.jpg", os.path.join(os.fsencode(photos / "odd"), NON_UTF8))
    shutil.copyfile(VIDEO, photos / "videos" / "clip.mp4")
    (photos / "odd" / "notes.txt").write_text("not media: never shown")
    return photos


def build_library(root: Path, photos: Path | None = None) -> tuple[Path, Path]:
    """A library indexed by the real CLI (`add`, then `index`) over a fresh photo tree."""
    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = photos or make_photos(root)
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    return library, photos


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def force_unmount(mountpoint: Path) -> None:
    if os.path.ismount(mountpoint) or _stale(mountpoint):
        subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True)


def _stale(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == 107  # ENOTCONN
    return False


class Mount:
    """``with Mount(library, mnt) as m:`` — a foreground gallerfs mount in a subprocess."""

    def __init__(self, library: Path, mountpoint: Path, *extra: str, check_log: bool = True) -> None:
        self.library = library
        self.path = mountpoint
        self.extra = extra
        self.check_log = check_log
        self.log_path = mountpoint.parent / f"{mountpoint.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Mount:
        self.path.mkdir(exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gallerfs", "-v", "mount", "-f", str(self.path), *self.extra],
            env=gallerfs_env(self.library), stdout=self.log, stderr=self.log,
        )  # fmt: skip
        try:
            ok = wait_until(lambda: os.path.ismount(self.path) or self.proc.poll() is not None, 30)
            if not ok or self.proc.poll() is not None:
                raise AssertionError(f"gallerfs mount did not come up:\n{self.log_text()}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self.check_log and exc[0] is None:
            text = self.log_text()
            assert "Traceback" not in text and "ERROR" not in text, f"errors in the mount's log:\n{text}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        try:
            if os.path.ismount(self.path):
                subprocess.run(["fusermount3", "-u", str(self.path)], capture_output=True, timeout=20)
            try:
                return proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                force_unmount(self.path)
                proc.send_signal(signal.SIGTERM)
                try:
                    return proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    return proc.wait(timeout=5)
        finally:
            force_unmount(self.path)
            self.proc = None
            self.log.close()

    def p(self, *parts: str | bytes) -> bytes:
        """A path inside the mount, as bytes (names may not be UTF-8)."""
        return os.path.join(os.fsencode(self.path), *(os.fsencode(p) for p in parts))


def tree_listing(root: bytes) -> list[tuple[bytes, int, int]]:
    """(relative path, st_ino, size) of every entry under root, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            out.append((os.path.relpath(full, root), st.st_ino, st.st_size))
    return sorted(out)


__all__ = ["Mount", "build_library", "make_photos", "wait_until", "force_unmount", "tree_listing", "run_gallerfs"]
