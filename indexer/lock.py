"""One indexing process per library: 'gallerfs index' and 'gallerfs watch' take this lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from gallerfs.errors import EXIT_LOCKED, GallerfsError


class IndexerLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "indexer.lock"
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise GallerfsError(
                f"cannot {what}: {holder} is already indexing this library", EXIT_LOCKED
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"gallerfs (pid {os.getpid()})".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> IndexerLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
