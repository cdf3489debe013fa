"""The mount's ``duplicates/``: one folder per duplicate set, largest reclaimable space first.

``duplicates/0001 IMG_0042.jpg (3 copies, 12.0 MB)/IMG_0042 (usb).jpg`` — the
set folders are numbered in order of the space trashing all but the keeper
frees; inside, each copy's name carries the source it lives on, and the
suggested keeper's name is listed like the others (``.gallerfs`` shows the
details). ``rm`` on a copy moves that original to the desktop trash after
verifying another copy survives; it fails with EPERM for the last verified
copy (also when the other copies are on offline drives), ENOMEDIUM when the
copy itself is offline.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Hashable
from dataclasses import dataclass

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

from gallerfs.units import human_bytes

log = logging.getLogger(__name__)


def _sets(ctx: TreeContext) -> list:
    from indexer.duplicates.sets import find_sets

    def build() -> list:
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


def set_folder_name(number: int, s: object) -> bytes:
    keeper: DupFile = s.keeper  # type: ignore[attr-defined]
    name = keeper.relpath.rpartition(b"/")[2]
    copies = len(s.members)  # type: ignore[attr-defined]
    label = f" ({copies} copies, {human_bytes(s.reclaimable)})".encode()  # type: ignore[attr-defined]
    near = b" near" if s.kind == "near" else b""  # type: ignore[attr-defined]
    return b"%04d " % number + name + near + label


class DuplicatesRoot(DirNode):
    key = ("top", b"duplicates")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [
            Entry(set_folder_name(i + 1, s), DupSetDir(s.key))
            for i, s in enumerate(_sets(ctx))
        ]


@dataclass(frozen=True)
class DupSetDir(DirNode):
    set_key: str

    @property
    def key(self) -> tuple[Hashable, ...]:  # type: ignore[override]
        return ("dupset", self.set_key)

    def _set(self, ctx: TreeContext) -> object | None:
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
        from indexer.duplicates.remove import (
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
