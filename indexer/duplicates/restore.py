"""Restoring a copy that gallerfs moved to the trash: ``gallerfs duplicates restore`` and the viewer's undo.

A trash record (``trash_records``) says where the file was and where it went. Before it moves back:
- the record must not have been restored already, its source must still be in the library and
  online (checked now), and nothing may be at the original path (nothing is ever replaced);
- the file in the trash must still be the one trashed (its size and full hash, re-read now).
Then the file is moved back without replacing anything (``indexer.trash.restore``), its
``.trashinfo`` removed, and its row comes back with its old id, metadata and hashes
(``db.duplicates.record_restored``). Albums, favourites and keeper choices are not restored.
Failures raise ``NotRestorableError`` with one line; nothing has changed then.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import TrashRecord
from gallerfs.db.files import ScannedFile
from gallerfs.errors import GallerfsError
from gallerfs.indexer import trash as trash_mod
from gallerfs.indexer.duplicates.exact import full_hash
from gallerfs.indexer.duplicates.remove import trash_lock
from gallerfs.indexer.media import kind_of
from gallerfs.indexer.volumes import check_presence

log = logging.getLogger(__name__)


class NotRestorableError(GallerfsError):
    """The trashed copy cannot be put back now (already back, source offline, path taken, trash emptied)."""

    def __init__(self, message: str, err: int = errno.EPERM) -> None:
        super().__init__(message)
        self.errno = err


@dataclass(frozen=True)
class RestoreOutcome:
    record: TrashRecord
    path: bytes  # where the file is again
    file_id: int  # its library id (the old one unless it was taken)


def _shown(record: TrashRecord) -> str:
    return f"{os.fsdecode(record.original_path)} (on {record.source_name})"


def last_trashed(db: Database) -> TrashRecord | None:
    """The most recent trashing not restored yet."""
    found = dupdb.trash_records(db, 1, in_trash_only=True)
    return found[0] if found else None


def restore_trashed(db: Database, settings: Settings, record_id: int) -> RestoreOutcome:
    """Move the file of trash record ``record_id`` back where it was and index it again."""
    with trash_lock(db):
        return _restore_locked(db, record_id)


def _restore_locked(db: Database, record_id: int) -> RestoreOutcome:
    record = dupdb.trash_record(db, record_id)
    if record is None:
        raise NotRestorableError(f"no trash record {record_id} (see 'gallerfs duplicates trashed')", errno.ENOENT)
    if record.restored_at is not None:
        raise NotRestorableError(f"{_shown(record)} was restored already")
    source = sources_db.get_source(db, record.source_id) if record.source_id is not None else None
    if source is None:
        raise NotRestorableError(
            f"{_shown(record)}: its source is no longer in the library; restore it from the trash by hand "
            f"({os.fsdecode(record.trash_path)})"
        )
    if not check_presence(source.path, source.mount_point, source.fs_uuid).online:
        raise NotRestorableError(f"{_shown(record)}: its drive is offline", errno.ENOMEDIUM)
    original = source.path.rstrip(b"/") + b"/" + record.relpath
    if os.path.lexists(original):
        raise NotRestorableError(f"not restoring {_shown(record)}: something is at that path now", errno.EEXIST)
    try:
        st = os.lstat(record.trash_path)
    except FileNotFoundError:
        raise NotRestorableError(
            f"{_shown(record)} is no longer in the trash ({os.fsdecode(record.trash_path)}): emptied or restored "
            "by hand", errno.ENOENT,
        ) from None  # fmt: skip
    try:
        same = st.st_size == record.size and full_hash(record.trash_path, record.size) == record.content_hash
    except OSError as exc:
        raise NotRestorableError(f"cannot read {os.fsdecode(record.trash_path)}: {exc.strerror or exc}", errno.EIO) from None
    if not same:
        raise NotRestorableError(
            f"not restoring {_shown(record)}: {os.fsdecode(record.trash_path)} is no longer the file that was trashed"
        )
    try:
        trash_mod.restore(record.trash_path, record.trashinfo_path, original)
    except OSError as exc:
        raise NotRestorableError(
            f"cannot restore {_shown(record)}: {exc.strerror or exc}", exc.errno or errno.EIO
        ) from None
    st = os.stat(original)
    name = record.relpath.rpartition(b"/")[2]
    kind = kind_of(name, original) or "image"
    entry = ScannedFile(record.relpath, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)
    file_id = dupdb.record_restored(db, record, source.id, entry)
    log.info("restored %s from the trash", _shown(record))
    return RestoreOutcome(record, original, file_id)
