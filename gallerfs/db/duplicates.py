"""Queries for duplicate finding: candidate files, hash write-back, keepers, trash records."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import apsw

from gallerfs.db.connection import Database
from gallerfs.db.files import METADATA_COLUMNS, ScannedFile
from gallerfs.db.state import bump_generation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DupFile:
    """A file as the duplicate finder and the review UI see it."""

    id: int
    source_id: int
    source_name: str
    source_path: bytes
    online: bool
    relpath: bytes
    kind: str
    size: int
    mtime_ns: int
    device: int
    inode: int
    partial_hash: str | None
    content_hash: str | None
    phash: int | None
    dhash: int | None
    width: int | None
    height: int | None
    taken_at: str | None
    format: str | None
    make: str | None
    model: str | None
    ctime_ns: int

    @property
    def path(self) -> bytes:
        """The absolute path of the original."""
        return self.source_path.rstrip(b"/") + b"/" + self.relpath

    @property
    def pixels(self) -> int:
        return (self.width or 0) * (self.height or 0)


_SELECT = """
SELECT f.id, f.source_id, s.name, s.path, s.online, f.relpath, f.kind, f.size, f.mtime_ns, f.device, f.inode,
       f.partial_hash, f.content_hash, f.phash, f.dhash, m.width, m.height, m.taken_at, m.format, m.make, m.model,
       f.ctime_ns
FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN metadata m ON m.file_id = f.id
"""


def _dup(row: tuple[Any, ...]) -> DupFile:
    values = list(row)
    values[4] = bool(values[4])
    return DupFile(*values)


def files_sharing_size(db: Database) -> list[DupFile]:
    """Every non-empty file whose size is not unique in the library (the only exact-duplicate candidates)."""
    return [_dup(r) for r in db.iter_tuples(
        _SELECT + "WHERE f.size > 0 AND f.size IN "
        "(SELECT size FROM files WHERE size > 0 GROUP BY size HAVING count(*) > 1) ORDER BY f.size, f.id"
    )]  # fmt: skip


def files_by_ids(db: Database, ids: Iterable[int]) -> dict[int, DupFile]:
    wanted = sorted(set(ids))
    found: dict[int, DupFile] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in db.iter_tuples(
            _SELECT + f"WHERE f.id IN ({','.join('?' * len(chunk))})", chunk
        ):
            item = _dup(row)
            found[item.id] = item
    return found


def file_info(db: Database, file_id: int) -> DupFile | None:
    return files_by_ids(db, [file_id]).get(file_id)


def files_with_content(db: Database, content_hash: str, size: int) -> list[DupFile]:
    return [_dup(r) for r in db.iter_tuples(
        _SELECT + "WHERE f.content_hash = ? AND f.size = ? ORDER BY f.id", (content_hash, size)
    )]  # fmt: skip


def files_with_size(db: Database, size: int) -> list[DupFile]:
    return [
        _dup(r)
        for r in db.iter_tuples(_SELECT + "WHERE f.size = ? ORDER BY f.id", (size,))
    ]


def perceptual_hashes(
    db: Database,
) -> list[tuple[int, int, int | None, int | None, int | None]]:
    """(id, phash, dhash, width, height) of every file with a perceptual hash."""
    return db.tuples(
        "SELECT f.id, f.phash, f.dhash, m.width, m.height FROM files f LEFT JOIN metadata m ON m.file_id = f.id "
        "WHERE f.phash IS NOT NULL ORDER BY f.id"
    )


def hashless_images(db: Database) -> list[int]:
    """Images phase 2 decoded but gave no perceptual hash: flat (solid-colour) pictures."""
    return [r[0] for r in db.tuples(
        "SELECT id FROM files WHERE kind = 'image' AND state = 'done' AND phash IS NULL AND error IS NULL ORDER BY id"
    )]  # fmt: skip


class HashUpdate(NamedTuple):
    """A hash computed while grouping, for the version of the file the index described."""

    file_id: int
    size: int
    mtime_ns: int
    partial_hash: str | None
    content_hash: str | None


def store_hashes(db: Database, updates: Sequence[HashUpdate]) -> None:
    """Write back hashes computed while grouping.

    A hash is written only where none is stored and the row still describes the version that was
    hashed (same size and modification time): a file that phase 1 saw change meanwhile keeps no
    stale hash.
    """
    with db.transaction():
        db.executemany(
            "UPDATE files SET partial_hash = coalesce(partial_hash, ?), content_hash = coalesce(content_hash, ?) "
            "WHERE id = ? AND size = ? AND mtime_ns = ?",
            [(u.partial_hash, u.content_hash, u.file_id, u.size, u.mtime_ns) for u in updates],
        )


# -- pixel-check verdicts ----------------------------------------------------


def pair_verdicts(db: Database) -> dict[tuple[int, int], tuple[str, int, bool]]:
    """(lower id, higher id) -> (stamp, rule, same) of every remembered candidate pair."""
    return {(a, b): (stamp, rule, bool(same)) for a, b, stamp, rule, same in db.iter_tuples(
        "SELECT file_a, file_b, stamp, rule, same FROM duplicate_verdicts"
    )}  # fmt: skip


def store_verdicts(db: Database, rows: Sequence[tuple[int, int, str, int, bool]]) -> None:
    """Remember (lower id, higher id, stamp, rule, same) verdicts; a cache, so no generation bump.

    A pair whose file was deleted meanwhile is skipped (its row would break the foreign key).
    When the library stays locked by another writer, the verdicts are not stored (a log line):
    listing duplicates must not fail for a cache.
    """
    if not rows:
        return
    try:
        with db.transaction():
            db.executemany(
                "INSERT OR REPLACE INTO duplicate_verdicts (file_a, file_b, stamp, rule, same) "
                "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM files WHERE id = ?) "
                "AND EXISTS (SELECT 1 FROM files WHERE id = ?)",
                [(a, b, stamp, rule, int(same), a, b) for a, b, stamp, rule, same in rows],
            )
    except (apsw.BusyError, apsw.LockedError) as exc:
        log.info("near-duplicate verdicts not stored (library busy): %s", exc)


# -- keepers ---------------------------------------------------------------


def keeper_choices(db: Database) -> dict[int, float]:
    """file_id -> when the user chose it as the keeper of its sets."""
    return dict(db.tuples("SELECT file_id, chosen_at FROM duplicate_keepers"))


def set_keeper(db: Database, file_id: int, others: Iterable[int] = ()) -> None:
    """Make file_id the keeper; the other members of its set lose any earlier choice."""
    with db.transaction():
        db.executemany(
            "DELETE FROM duplicate_keepers WHERE file_id = ?",
            [(i,) for i in others if i != file_id],
        )
        db.execute(
            "INSERT OR REPLACE INTO duplicate_keepers (file_id, chosen_at) VALUES (?, ?)",
            (file_id, time.time()),
        )
        bump_generation(db)


# -- trash -----------------------------------------------------------------


@dataclass(frozen=True)
class TrashRecord:
    id: int
    file_id: int
    source_name: str
    relpath: bytes
    original_path: bytes
    size: int
    content_hash: str
    kept_path: bytes | None
    set_kind: str
    trash_path: bytes
    trashinfo_path: bytes
    trashed_at: float
    source_id: int | None = None
    restored_at: float | None = None


# The phase-2 results of a file row that a restore puts back (the rest comes from the file itself).
_SNAPSHOT_FILE_COLUMNS = ("kind", "state", "error", "content_hash", "partial_hash", "phash", "dhash", "first_seen_at",
                          "indexed_at")  # fmt: skip


def _snapshot(db: Database, file_id: int) -> str | None:
    row = db.row(f"SELECT {', '.join(_SNAPSHOT_FILE_COLUMNS)} FROM files WHERE id = ?", (file_id,))
    if row is None:
        return None
    meta = db.row(f"SELECT {', '.join(METADATA_COLUMNS)} FROM metadata WHERE file_id = ?", (file_id,))
    mtime_ns = db.value("SELECT mtime_ns FROM files WHERE id = ?", (file_id,))
    return json.dumps({"file": row, "metadata": meta, "mtime_ns": mtime_ns})


def record_trashed(
    db: Database,
    item: DupFile,
    *,
    content_hash: str,
    kept: DupFile | None,
    set_kind: str,
    trash_path: bytes,
    trashinfo_path: bytes,
) -> int:
    """Record the trashing and delete the file's row (cascading to albums, favourites, metadata, keepers).

    What the row held after phase 2 is kept in the record, for ``record_restored``."""
    with db.transaction():
        db.execute(
            "INSERT INTO trash_records (file_id, source_id, source_name, relpath, original_path, size, content_hash, "
            "kept_file_id, kept_path, set_kind, trash_path, trashinfo_path, trashed_at, snapshot) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (item.id, item.source_id, item.source_name, item.relpath, item.path, item.size, content_hash,
             kept.id if kept else None, kept.path if kept else None, set_kind, trash_path, trashinfo_path,
             time.time(), _snapshot(db, item.id)),
        )  # fmt: skip
        record_id = db.last_rowid()
        _delete_file_row(db, item.id)
        bump_generation(db)
    return record_id


def _delete_file_row(db: Database, file_id: int) -> None:
    # Cascades to metadata, albums, favourites, keepers and embeddings (whose trigger drops the vector).
    db.execute("DELETE FROM files WHERE id = ?", (file_id,))


_RECORD_COLS = (
    "id, file_id, source_name, relpath, original_path, size, content_hash, kept_path, set_kind, trash_path, "
    "trashinfo_path, trashed_at, source_id, restored_at"
)


def trash_records(db: Database, limit: int = 1000, *, in_trash_only: bool = False) -> list[TrashRecord]:
    """The latest records first; ``in_trash_only`` leaves out those restored since."""
    where = " WHERE restored_at IS NULL" if in_trash_only else ""
    return [TrashRecord(*r) for r in db.tuples(
        f"SELECT {_RECORD_COLS} FROM trash_records{where} ORDER BY id DESC LIMIT ?", (limit,)
    )]  # fmt: skip


def trash_record(db: Database, record_id: int) -> TrashRecord | None:
    rows = db.tuples(f"SELECT {_RECORD_COLS} FROM trash_records WHERE id = ?", (record_id,))
    return TrashRecord(*rows[0]) if rows else None


def record_restored(db: Database, record: TrashRecord, source_id: int, entry: ScannedFile) -> int:
    """The file of ``record`` is back at ``entry.relpath``: give it a row again; returns its id.

    It gets its old id back when that is still free (ids are never given to another file, so it
    is unless the file was re-indexed meanwhile), hence its thumbnails and photo page. When the
    record holds a snapshot and the file is the version trashed (same size and mtime), its phase-2
    results come back too; otherwise the row is pending and the next index processes it.
    """
    with db.transaction():
        existing = db.value("SELECT id FROM files WHERE source_id = ? AND relpath = ?", (source_id, entry.relpath))
        if existing is not None:
            file_id = int(existing)
        else:
            taken = db.value("SELECT 1 FROM files WHERE id = ?", (record.file_id,))
            file_id_value = None if taken else record.file_id
            parent, _, name = entry.relpath.rpartition(b"/")
            db.execute(
                "INSERT INTO files (id, source_id, relpath, dir, name, kind, size, mtime_ns, ctime_ns, device, inode, "
                "first_seen_at, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (file_id_value, source_id, entry.relpath, parent, name, entry.kind, entry.size, entry.mtime_ns,
                 entry.ctime_ns, entry.device, entry.inode, time.time(), record.content_hash),
            )  # fmt: skip
            file_id = db.last_rowid()
            snap = _stored_snapshot(db, record.id)
            if snap is not None and entry.size == record.size and _same_version(snap, entry):
                _apply_snapshot(db, file_id, snap)
        db.execute("UPDATE trash_records SET restored_at = ? WHERE id = ?", (time.time(), record.id))
        bump_generation(db)
    return file_id


def _stored_snapshot(db: Database, record_id: int) -> dict[str, Any] | None:
    text = db.value("SELECT snapshot FROM trash_records WHERE id = ?", (record_id,))
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        log.warning("trash record %d: unreadable snapshot; the restored file is indexed again", record_id)
        return None
    return data if isinstance(data, dict) and isinstance(data.get("file"), dict) else None


def _same_version(snap: dict[str, Any], entry: ScannedFile) -> bool:
    # A rename keeps the mtime: a file whose mtime differs was changed in the trash and needs phase 2 again.
    return bool(snap.get("mtime_ns") in (None, entry.mtime_ns))


def _apply_snapshot(db: Database, file_id: int, snap: dict[str, Any]) -> None:
    row = snap["file"]
    cols = [c for c in _SNAPSHOT_FILE_COLUMNS if c in row]
    db.execute(
        f"UPDATE files SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?", (*[row[c] for c in cols], file_id)
    )
    meta = snap.get("metadata")
    if isinstance(meta, dict):
        cols = [c for c in METADATA_COLUMNS if c in meta]
        db.execute(
            f"INSERT OR REPLACE INTO metadata (file_id, {', '.join(cols)}) VALUES (?, {', '.join('?' * len(cols))})",
            (file_id, *[meta[c] for c in cols]),
        )
