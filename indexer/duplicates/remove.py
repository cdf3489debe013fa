"""Trashing one copy of a duplicate set, never the last one.

Before a copy goes to the trash:
- its source must be online (the drive present, checked now) and the file
  must still hold the content the index knows (re-hashed now);
- another copy of the set must be verified now: on an online source, a
  different file (not the same inode reached twice), the indexed size, and
  for an exact set the same full hash (for a near set, the hash the index
  holds for it). Copies on offline sources cannot be verified and do not count.
If no other copy passes, the trash is refused with one line (`LastCopyError`,
EPERM in the mount). In a near set, the only full-resolution member (larger
than every other by pixels, then bytes) is refused too (`FullResolutionError`,
EPERM in the mount) while smaller copies remain, unless the caller passes
``full_resolution=True`` — the CLI's ``trash --full-resolution PATH|ID``, where
the user names that very file; the mount and the review never do. Afterwards the trash and its ``.trashinfo`` are checked,
the trashing is recorded in ``trash_records`` and the file's row is deleted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.errors import GallerfsError
from gallerfs.indexer import trash as trash_mod
from gallerfs.indexer.duplicates.exact import full_hash
from gallerfs.indexer.duplicates.sets import DuplicateSet, only_full_resolution, set_of
from gallerfs.indexer.volumes import check_presence

log = logging.getLogger(__name__)


class LastCopyError(GallerfsError):
    """Trashing would leave no verified copy of the set."""

    errno = errno.EPERM


class FullResolutionError(GallerfsError):
    """Trashing would keep only smaller copies of a near set's one full-resolution picture."""

    errno = errno.EPERM


class NotTrashableError(GallerfsError):
    """The copy itself cannot be trashed now (offline, changed, not a duplicate)."""

    def __init__(self, message: str, err: int = errno.EPERM) -> None:
        super().__init__(message)
        self.errno = err


@dataclass(frozen=True)
class TrashOutcome:
    file: DupFile
    kept: DupFile
    set_kind: str
    trash_path: bytes
    trashinfo_path: bytes
    record_id: int


def _shown(f: DupFile) -> str:
    return f"{os.fsdecode(f.path)} (on {f.source_name})"


class _Presence:
    """Whether each source's drive is present now, checked once per call."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.cache: dict[int, bool] = {}

    def online(self, source_id: int) -> bool:
        if source_id not in self.cache:
            source = sources_db.get_source(self.db, source_id)
            self.cache[source_id] = bool(
                source
                and check_presence(
                    source.path, source.mount_point, source.fs_uuid
                ).online
            )
        return self.cache[source_id]


def _dims(f: DupFile) -> str:
    return f"{f.width}x{f.height}, {f.size} bytes" if f.width and f.height else f"{f.size} bytes"


def _stat(path: bytes) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


@contextlib.contextmanager
def trash_lock(db: Database) -> Iterator[None]:
    """One trasher (or restorer) at a time per library (the mount, the CLI, the viewer).

    Without it, two copies of a pair trashed at the same moment could each see
    the other as the surviving copy. A file lock rather than the write
    transaction: verifying re-hashes whole files and must not hold up the indexer.
    """
    lock_dir = db.path.parent / "run"
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / "trash.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def trash_copy(
    db: Database, settings: Settings, file_id: int, dup_set: DuplicateSet | None = None,
    *, full_resolution: bool = False,
) -> TrashOutcome:  # fmt: skip
    """Move one copy to the trash after verifying another copy of its set survives.

    full_resolution: the user named this file and accepts trashing a near set's
    only full-resolution member (only smaller copies stay).
    """
    with trash_lock(db):
        return _trash_copy_locked(db, settings, file_id, dup_set, full_resolution)


def _trash_copy_locked(
    db: Database, settings: Settings, file_id: int, dup_set: DuplicateSet | None,
    full_resolution: bool,
) -> TrashOutcome:  # fmt: skip
    item = dupdb.file_info(db, file_id)
    if item is None:
        raise NotTrashableError(
            f"no file with id {file_id} in the library", errno.ENOENT
        )
    if dup_set is None:
        dup_set = set_of(db, settings, file_id)
    if dup_set is None or all(m.id != file_id for m in dup_set.members):
        raise LastCopyError(
            f"refusing to trash {_shown(item)}: it is the last remaining copy (no duplicate of it)"
        )
    largest = only_full_resolution(dup_set)
    if largest is not None and largest.id == item.id and not full_resolution:
        raise FullResolutionError(
            f"refusing to trash {_shown(item)}: it is the only full-resolution copy of its near set "
            f"({_dims(item)}; the others are smaller); to trash it anyway, name it: "
            f"gallerfs duplicates trash --full-resolution {item.id}"
        )
    presence = _Presence(db)
    if not presence.online(item.source_id):
        raise NotTrashableError(
            f"{_shown(item)}: its drive is offline", errno.ENOMEDIUM
        )
    st = _stat(item.path)
    if st is None or st.st_size != item.size:
        raise NotTrashableError(
            f"{_shown(item)} is missing or changed since it was indexed (run 'gallerfs rescan')"
        )
    try:
        target_hash = full_hash(item.path, item.size)
    except OSError as exc:
        raise NotTrashableError(
            f"{_shown(item)}: cannot read it: {exc.strerror or exc}", errno.EIO
        ) from None
    if item.content_hash and item.content_hash != target_hash:
        raise NotTrashableError(
            f"{_shown(item)} changed since it was indexed (run 'gallerfs rescan')"
        )
    others = [m for m in dup_set.members if m.id != item.id]
    kept = None
    offline: list[DupFile] = []
    for other in others:  # keeper first
        verdict = _verify_other(other, dup_set.kind, target_hash, st, presence)
        if verdict == "ok":
            kept = other
            break
        if verdict == "offline":
            offline.append(other)
    if kept is None:
        if offline:
            where = ", ".join(sorted({o.source_name for o in offline}))
            raise LastCopyError(
                f"refusing to trash {_shown(item)}: the other copies are offline ({where}) and cannot be verified"
            )
        raise LastCopyError(
            f"refusing to trash {_shown(item)}: it is the last remaining copy of its set"
        )
    try:
        moved = trash_mod.trash(item.path)
    except OSError as exc:
        raise NotTrashableError(
            f"cannot move {_shown(item)} to the trash: {exc.strerror or exc}",
            exc.errno or errno.EIO,
        ) from None
    record_id = dupdb.record_trashed(
        db, item, content_hash=target_hash, kept=kept, set_kind=dup_set.kind,
        trash_path=moved.trash_path, trashinfo_path=moved.trashinfo_path,
    )  # fmt: skip
    try:
        trash_mod.verify(moved)
    except (
        OSError
    ) as exc:  # the file did move (and is recorded); its trash entry looks wrong
        raise NotTrashableError(
            f"{_shown(item)} was moved to the trash but: {exc.strerror or exc}",
            errno.EIO,
        ) from None
    log.info("trashed %s; %s stays", _shown(item), _shown(kept))
    return TrashOutcome(
        item, kept, dup_set.kind, moved.trash_path, moved.trashinfo_path, record_id
    )


def _verify_other(
    other: DupFile,
    kind: str,
    target_hash: str,
    target_st: os.stat_result,
    presence: _Presence,
) -> str:
    """'ok' when other is a present, separate, intact copy; else 'offline' or 'bad'."""
    if not presence.online(other.source_id):
        return "offline"
    st = _stat(other.path)
    if st is None or st.st_size != other.size:
        log.warning("%s is missing or changed: not counted as a copy", _shown(other))
        return "bad"
    if (st.st_dev, st.st_ino) == (target_st.st_dev, target_st.st_ino):
        return "bad"  # the same file reached through two sources or a hard link: not a second copy
    expected = target_hash if kind == "exact" else other.content_hash
    try:
        actual = full_hash(other.path, other.size)
    except OSError as exc:
        log.warning("cannot read %s: %s", _shown(other), exc)
        return "bad"
    if expected is not None and actual != expected:
        log.warning(
            "%s no longer matches the index: not counted as a copy", _shown(other)
        )
        return "bad"
    return "ok"
