"""Hooking the journal folder into ``gallerfs watch`` (``indexer.watcher.EXTRA_WATCHES``) and ``index``.

``journal_watches`` has the signature the watcher expects of an extra watch:
``fn(db, paths, settings) -> [(folder bytes, callback(db, path bytes))]``. It
first reconciles the folder (``sync_journal``: notes changed while gallerfs was
not running, empty period files to fill), then the callback handles each event.

The watcher calls the callback with a moved file's destination only, so a
callback for a path that is not a recorded note also forgets recorded notes
whose files are gone (a few ``lstat`` calls per recorded note).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gallerfs.db import journal as jdb
from gallerfs.journal.entries import journal_folder, on_journal_file_event, sync_journal

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)


def forget_missing(db: Database, folder: Path) -> list[bytes]:
    """Forget recorded notes whose files no longer exist; returns their relpaths."""
    gone = [rel for rel in jdb.entry_stamps(db) if not os.path.lexists(os.path.join(os.fsencode(folder), rel))]
    if gone:
        jdb.forget_entries(db, gone)
    return gone


def journal_watches(
    db: Database, paths: LibraryPaths, settings: Settings
) -> list[tuple[bytes, Callable[[Database, bytes], None]]]:
    """The journal folder and its event callback, for ``indexer.watcher.EXTRA_WATCHES``."""
    folder = journal_folder(paths, settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        report = sync_journal(paths, settings, db)
        log.info(
            "journal: %d filled, %d recorded, %d forgotten", len(report.filled), len(report.recorded),
            len(report.forgotten),
        )  # fmt: skip
    except OSError as exc:
        log.warning("journal: cannot read %s: %s", folder, exc)

    def callback(db: Database, path: bytes) -> None:
        done = on_journal_file_event(paths, settings, db, Path(os.fsdecode(path)))
        if done != "recorded":
            forget_missing(db, folder)
        log.debug("journal event %s: %s", os.fsdecode(path), done)

    return [(os.fsencode(folder), callback)]
