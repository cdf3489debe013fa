"""The mount's ``duplicates/``: one folder per duplicate set.

``duplicates/3f2a9c1d IMG_0042.jpg/IMG_0042 (usb).jpg`` — a set folder is
named by the set's tag (8 hex digits derived from its content hash, or for a
near set from its largest picture) and the name of its keeper (exact) or
largest picture (near, with `` near`` after it), so the name does not change
when a copy is trashed and ``rm duplicates/3f2a9c1d*/…`` always means the set
the user looked at (``gallerfs duplicates`` prints each set's folder). Inside,
each copy's name carries the source it lives on. ``rm`` on a copy moves that
original to the desktop trash after verifying another copy survives; it fails
with EPERM for the last verified copy (also when the other copies are on
offline drives) and for a near set's only full-resolution picture, ENOMEDIUM
when the copy itself is offline.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gallerfs.db.duplicates import DupFile
from gallerfs.db.tree import FileRow
from gallerfs.errors import GallerfsError, LibraryBusyError
from gallerfs.fs.nodes import (
    DirNode,
    Entry,
    LibraryFile,
    TreeContext,
    fs_name,
    unique_names,
)

if TYPE_CHECKING:
    from gallerfs.indexer.duplicates.sets import DuplicateSet

log = logging.getLogger(__name__)


def _sets(ctx: TreeContext) -> list[DuplicateSet]:
    from gallerfs.indexer.duplicates.sets import find_sets

    def build() -> list[DuplicateSet]:
        found = find_sets(ctx.db, ctx.settings)
        return sorted(found, key=lambda s: (-s.reclaimable, s.kind != "exact", s.key))

    return ctx.memo.get("duplicate_sets", build)


def copy_name(f: DupFile) -> bytes:
    """``IMG_0042.jpg`` on source ``usb`` -> ``IMG_0042 (usb).jpg``."""
    name = f.relpath.rpartition(b"/")[2]
    stem, ext = os.path.splitext(name)
    if not stem:
        stem, ext = name, b""
    return stem + b" (" + fs_name(f.source_name) + b")" + ext


class DuplicatesRoot(DirNode):
    key = ("top", b"duplicates")

    def list(self, ctx: TreeContext) -> list[Entry]:
        from gallerfs.indexer.duplicates.sets import folder_names

        sets = _sets(ctx)
        names = folder_names(sets)
        return sorted((Entry(names[s.key], DupSetDir(s.key)) for s in sets), key=lambda e: e.name)


@dataclass(frozen=True)
class DupSetDir(DirNode):
    set_key: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("dupset", self.set_key)

    def _set(self, ctx: TreeContext) -> DuplicateSet | None:
        for s in _sets(ctx):
            if s.key == self.set_key:
                return s
        return None

    def list(self, ctx: TreeContext) -> list[Entry]:
        s = self._set(ctx)
        if s is None:
            return []
        rows = [
            FileRow(m.id, m.source_id, copy_name(m), m.size, m.mtime_ns, m.ctime_ns)
            for m in s.members
        ]
        return [Entry(name, LibraryFile(row)) for name, row in unique_names(rows)]

    def remove_file(self, ctx: TreeContext, file_id: int, name: bytes) -> None:
        from gallerfs.indexer.duplicates.remove import (
            LastCopyError,
            NotTrashableError,
            trash_copy,
        )

        s = self._set(ctx)
        if s is None:
            raise OSError(errno.ENOENT, "the duplicate set changed")
        try:
            trash_copy(ctx.writer(), ctx.settings, file_id, s)
        except LastCopyError as exc:
            log.warning("%s", exc)
            raise OSError(errno.EPERM, str(exc)) from None
        except NotTrashableError as exc:
            log.warning("%s", exc)
            raise OSError(exc.errno, str(exc)) from None
        except LibraryBusyError:  # fuse_errors answers EBUSY
            raise
        except GallerfsError as exc:
            log.warning("%s", exc)
            raise OSError(errno.EPERM, str(exc)) from None
