"""What the mount does for the journal beyond the passthrough: templates for new empty entries.

A file created through ``MOUNT/journal/`` gets a ``JournalCreatedHandle``.
When its last handle is released and the file is an empty ``YYYY-MM-DD.md`` /
``YYYY-Www.md`` (Obsidian's and Logseq's new note, ``touch``), the
``Operations`` class starts ``fill_later`` as a trio system task, so the
release is answered at once; it writes the template on a worker thread with
``gallerfs.journal.fill_if_empty`` (no-clobber: an editor's write in the
meantime always wins), then invalidates the kernel's entry.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pyfuse3
import trio

from gallerfs.fs.handles import FdHandle
from gallerfs.journal.periods import parse_filename

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

    def may_be_entry(self) -> bool:
        """Whether the name is a journal entry's (cheap: no I/O)."""
        return parse_filename(os.fsdecode(self.name)) is not None

    def fill_template(self, paths: LibraryPaths, settings: Settings, reader: Callable[[], Database]) -> bool:
        """Blocking: after release, fill the file with its template if it is still an empty entry."""
        from gallerfs.journal.entries import fill_if_empty

        if not self.may_be_entry():
            return False
        try:
            return fill_if_empty(paths, settings, reader(), Path(os.fsdecode(self.path)))
        except Exception:  # never let a template break the passthrough
            log.exception("journal template for %s failed", os.fsdecode(self.path))
            return False

    async def fill_later(self, paths: LibraryPaths, settings: Settings, reader: Callable[[], Database]) -> None:
        """The template, off the request path; the kernel forgets the old (empty) entry after."""
        try:
            filled = await trio.to_thread.run_sync(self.fill_template, paths, settings, reader)
            if filled:
                pyfuse3.invalidate_entry_async(self.parent, self.name, ignore_enoent=True)
        except Exception:  # a system task must never raise
            log.exception("journal template for %s failed", os.fsdecode(self.path))
