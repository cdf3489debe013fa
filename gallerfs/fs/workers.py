"""The mount's worker threads and its write connection.

All FUSE handlers run on one trio thread, so every blocking call goes to a
worker thread: library reads (a reader connection lent per call, see
``readers``), the library's writes (one at a time, on the writer connection),
copies dropped into albums (compared against originals of any source: their
own threads) and ``statfs``. Calls on originals go through their source's
gate instead (``sourceio``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import trio

from gallerfs.db.connection import Database
from gallerfs.fs.readers import ReaderLoans

T = TypeVar("T")

READER_THREADS = 4
COPY_THREADS = 2


class LibraryWriter:
    """The mount's one write connection, opened on first use (a read-only browse never opens it)."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._db: Database | None = None
        self._lock = threading.Lock()

    def get(self) -> Database:
        with self._lock:
            if self._db is None:
                self._db = Database(self.path, busy_timeout_ms=self.busy_timeout_ms)
            return self._db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class Workers:
    """Where a blocking call runs; each kind has its own limit, so one kind never starves another."""

    def __init__(self, pool: ReaderLoans, writer: LibraryWriter) -> None:
        self.pool = pool
        self.writer = writer
        self.readers = trio.CapacityLimiter(READER_THREADS)
        self.write_limiter = trio.CapacityLimiter(1)
        self.copy_limiter = trio.CapacityLimiter(COPY_THREADS)  # copies into albums compare against originals
        self.statfs_limiter = trio.CapacityLimiter(1)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on a reader thread, with a reader connection lent to it (``pool.get()``)."""
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.readers)

    async def copy(self, fn: Callable[..., T], *args: Any) -> T:
        """Copies into albums, which compare against originals of any source: their own two threads."""
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.copy_limiter, abandon_on_cancel=True)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the one writer thread (``writer.get()`` is the connection)."""
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.write_limiter)

    async def statfs(self, fn: Callable[[], T]) -> T:
        """Its own thread: a 'df' stuck on a dead journal share must not take a listing's thread."""
        return await trio.to_thread.run_sync(fn, limiter=self.statfs_limiter, abandon_on_cancel=True)

    def close(self) -> None:
        self.pool.close()
        self.writer.close()
