"""Read-only library connections for the mount's worker threads.

trio's worker threads come and go (an idle one exits after a few seconds), so a
connection per thread (``db.connection.ReaderPool``) would leak one connection
per thread ever started. Here a connection is lent to a thread for the length
of one call (``lend``) and comes back to a free list; a thread that asks with
``get`` outside a loan keeps its connection until the thread ends, and the
connection is reclaimed then.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable, TypeVar

import apsw

from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

T = TypeVar("T")


class ReaderLoans:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._free: list[Database] = []
        self._held: dict[threading.Thread, Database] = {}
        self._all: list[Database] = []
        self._lock = threading.Lock()

    def _take(self) -> Database:
        with self._lock:
            for thread, db in list(self._held.items()):
                if not thread.is_alive():
                    del self._held[thread]
                    self._free.append(db)
            if self._free:
                return self._free.pop()
        db = Database(self.path, readonly=True)
        with self._lock:
            self._all.append(db)
        return db

    def get(self) -> Database:
        """This thread's connection (lent for the current call, or kept until the thread ends)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._take()
            self._local.db = db
            with self._lock:
                self._held[threading.current_thread()] = db
        return db

    def lend(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) with a connection lent to this thread (for ``get``) for the call."""
        if getattr(self._local, "db", None) is not None:
            return fn(*args)
        self._local.db = db = self._take()
        try:
            return fn(*args)
        finally:
            self._local.db = None
            with self._lock:
                self._free.append(db)

    @property
    def open_connections(self) -> int:
        return len(self._all)

    def close(self) -> None:
        with self._lock:
            for db in self._all:
                try:
                    db.close()
                except apsw.Error:
                    pass
            self._all.clear()
            self._free.clear()
            self._held.clear()
