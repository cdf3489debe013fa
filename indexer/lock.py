"""One indexing process per library: 'gallerfs index', 'rescan' and 'watch' take this lock.

The lock (flock on ``run/indexer.lock``) is what proves that a process is
indexing: the kernel drops it when the process dies, whatever the cause, so a
job row left 'running' by a process that is gone (or whose PID was reused
after a reboot) is recognised as interrupted by :func:`lock_holder`.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from gallerfs.errors import LockedError


LOCK_NAME = "indexer.lock"


def lock_holder(run_dir: Path, proc_locks: str = "/proc/locks") -> int | None:
    """The PID of the process holding the indexer lock, 0 if it is held by a PID not visible here, or None
    when no process holds it. Reads /proc/locks: probing by taking the lock would make a concurrent
    'gallerfs index' fail to start."""
    try:
        inode = os.stat(run_dir / LOCK_NAME).st_ino
        with open(proc_locks, encoding="ascii", errors="replace") as f:
            table = f.read()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12345 fe:00:2146658 0 EOF"; waiters are marked "->" and listed after
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        if fields[5].rpartition(":")[2] == str(inode):
            return int(fields[4]) if fields[4].isdigit() else 0
    return None


class IndexerLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise LockedError(f"cannot {what}: {holder} is already indexing this library") from None
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
