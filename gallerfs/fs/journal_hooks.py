"""What the mount does for the journal beyond the passthrough: templates for new empty entries.

A file created through ``MOUNT/journal/`` gets a ``JournalCreatedHandle``.
When its last handle is released and the file is an empty ``YYYY-MM-DD.md`` /
``YYYY-Www.md`` (Obsidian's and Logseq's new note, ``touch``), the
``Operations`` class calls ``fill_template`` on a worker thread, which writes
the template with ``gallerfs.journal.fill_if_empty`` (no-clobber: an editor's
write in the meantime always wins), then invalidates the kernel's entry.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gallerfs.fs.handles import FdHandle

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)


class JournalCreatedHandle(FdHandle):
    """A passthrough handle of a journal file this mount created (``create``)."""

    def __init__(self, fd: int, parent: int, name: bytes, path: bytes) -> None:
        super().__init__(fd)
        self.parent = parent  # inode of the folder it was created in
        self.name = name
        self.path = path  # real path in the journal folder

    def fill_template(self, paths: LibraryPaths, settings: Settings, reader: Callable[[], Database]) -> bool:
        """Blocking: after release, fill the file with its template if it is still an empty entry."""
        from gallerfs.journal.entries import fill_if_empty

        if not self.name.endswith(b".md"):
            return False
        try:
            return fill_if_empty(paths, settings, reader(), Path(os.fsdecode(self.path)))
        except Exception:  # never let a template break the passthrough
            log.exception("journal template for %s failed", os.fsdecode(self.path))
            return False
