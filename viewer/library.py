"""The viewer's access to the library: one read-only connection per server thread, and a short-lived
writer connection for the few writes (favourites), made through the same functions the CLI uses."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from flask import current_app

from gallerfs.config import Settings
from gallerfs.db.connection import Database, ReaderPool
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.viewer.views import Views

WRITE_BUSY_TIMEOUT_MS = 5_000  # a page waits a few seconds for a busy indexer, then says so


class Library:
    def __init__(self, paths: LibraryPaths, settings: Settings) -> None:
        self.paths = paths
        self.settings = settings
        self._readers = ReaderPool(paths.db)
        self._write_lock = threading.Lock()
        self.views = Views()

    def reader(self) -> Database:
        if not self.paths.db.exists():
            raise GallerfsError(f"no library at {self.paths.root} (run 'gallerfs add FOLDER' first)")
        return self._readers.get()

    @contextlib.contextmanager
    def writer(self) -> Iterator[Database]:
        with self._write_lock:
            db = Database(self.paths.db, busy_timeout_ms=WRITE_BUSY_TIMEOUT_MS)
            try:
                yield db
            finally:
                db.close()

    def close(self) -> None:
        self._readers.close()


def library() -> Library:
    return current_app.extensions["gallerfs_library"]
