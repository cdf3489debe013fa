"""The viewer's Rescan: 'gallerfs rescan' (indexer.run.rescan_library) in a background thread of the
viewer process, under the indexer's lock exactly as the CLI takes it.

The lock is taken in the request, so a library that another gallerfs is indexing (or that this viewer
is already rescanning) is refused at once with one line, and held by the thread until the rescan ends.
Progress shows on the Jobs page through the job rows the indexer writes; a failure is logged and left
on its job row, as the CLI's would be.
"""

from __future__ import annotations

import logging
import threading

from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.indexer.lock import IndexerLock
from gallerfs.viewer.errors import ViewerError
from gallerfs.viewer.library import Library

log = logging.getLogger(__name__)


class Rescans:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self, lib: Library, source_ids: list[int] | None) -> list[str]:
        """Start rescanning these sources (all when None); returns their names. ViewerError 409 when
        the library is being indexed already."""
        with self._guard:
            if self.running():
                raise ViewerError(409, "a rescan started from this viewer is still running: see the Jobs page")
            reader = lib.reader()
            every = sources_db.list_sources(reader)
            if not every:
                raise ViewerError(400, "no sources yet: add a folder first")
            if source_ids is None:
                chosen = every
            else:
                by_id = {s.id: s for s in every}
                missing = [i for i in source_ids if i not in by_id]
                if missing:
                    raise ViewerError(404, f"no source with id {missing[0]}")
                chosen = [by_id[i] for i in source_ids]
            lock = IndexerLock(lib.paths.run_dir)
            try:
                lock.acquire("rescan")
            except GallerfsError as exc:
                raise ViewerError(409, f"{exc}; try again when it has finished") from None
            self._thread = threading.Thread(
                target=self._run, args=(lib, lock, chosen), name="viewer-rescan", daemon=True
            )
            self._thread.start()
            return [s.name for s in chosen]

    def _run(self, lib: Library, lock: IndexerLock, chosen: list[sources_db.Source]) -> None:
        from gallerfs.indexer.run import rescan_library

        try:
            with lock:
                db = Database(lib.paths.db)
                try:
                    report = rescan_library(db, lib.paths, lib.settings, chosen, show_progress=False)
                finally:
                    db.close()
            log.info("rescan of %s done: %d files processed, %d with errors",
                     ", ".join(s.name for s in chosen), report.processed, report.failed)  # fmt: skip
        except Exception:
            log.exception("rescan from the viewer failed (see the Jobs page)")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running rescan, if any; True when none is running any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running()
