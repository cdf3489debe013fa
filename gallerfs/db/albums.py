"""Albums and favourites, read and written (the mount, the CLI and the viewer use these).

Also the one other write the mount makes: marking an original that was edited
through the mount for re-indexing. Every write bumps ``library_state.generation``
in the same transaction, so that every reader notices.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Iterable

from gallerfs.db import files as files_db
from gallerfs.db.files import ScannedFile
from gallerfs.db.state import bump_generation
from gallerfs.db.tree import AlbumRow, list_albums
from gallerfs.errors import AlbumExistsError, AlbumNotEmptyError, InvalidNameError, NoSuchAlbumError, NoSuchFileError

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

__all__ = [
    "AlbumRow",
    "list_albums",
    "album_by_name",
    "create_album",
    "rename_album",
    "delete_album",
    "add_to_album",
    "remove_from_album",
    "album_file_ids",
    "add_favourites",
    "remove_favourites",
    "favourite_ids",
    "mark_file_pending",
]


def check_album_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise InvalidNameError(f"invalid album name {name!r}")
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        raise InvalidNameError("album name too long (255 bytes at most)")
    return name


def album_by_name(db: Database, name: str) -> AlbumRow | None:
    row = db.tuples(
        "SELECT a.id, a.name, a.created_at, (SELECT count(*) FROM album_files af WHERE af.album_id = a.id) "
        "FROM albums a WHERE a.name = ?",
        (name,),
    )
    return AlbumRow(int(row[0][0]), str(row[0][1]), float(row[0][2]), int(row[0][3])) if row else None


def _require(db: Database, name: str) -> AlbumRow:
    album = album_by_name(db, name)
    if album is None:
        raise NoSuchAlbumError(f"no album named {name!r}")
    return album


def create_album(db: Database, name: str) -> int:
    check_album_name(name)
    with db.transaction():
        if album_by_name(db, name) is not None:
            raise AlbumExistsError(f"an album named {name!r} already exists")
        db.execute("INSERT INTO albums (name, created_at) VALUES (?, ?)", (name, time.time()))
        album_id = db.last_rowid()
        bump_generation(db)
    return album_id


def rename_album(db: Database, old: str, new: str) -> None:
    check_album_name(new)
    with db.transaction():
        album = _require(db, old)
        if old == new:
            return
        if album_by_name(db, new) is not None:
            raise AlbumExistsError(f"an album named {new!r} already exists")
        db.execute("UPDATE albums SET name = ? WHERE id = ?", (new, album.id))
        bump_generation(db)


def delete_album(db: Database, name: str, *, only_if_empty: bool = False) -> None:
    with db.transaction():
        album = _require(db, name)
        if only_if_empty and album.count:
            raise AlbumNotEmptyError(f"album {name!r} is not empty ({album.count} files)")
        db.execute("DELETE FROM albums WHERE id = ?", (album.id,))
        bump_generation(db)


def _existing_ids(db: Database, file_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(int(i) for i in file_ids))
    found = [i for i in ids if db.value("SELECT 1 FROM files WHERE id = ?", (i,)) is not None]
    missing = sorted(set(ids) - set(found))
    if missing:
        raise NoSuchFileError(f"no library file with id {missing[0]}")
    return found


def add_to_album(db: Database, name: str, file_ids: Iterable[int]) -> int:
    """Add files to an album; returns how many were not in it yet."""
    now = time.time()
    with db.transaction():
        album = _require(db, name)
        ids = _existing_ids(db, file_ids)
        before = db.value("SELECT count(*) FROM album_files WHERE album_id = ?", (album.id,))
        db.executemany(
            "INSERT OR IGNORE INTO album_files (album_id, file_id, added_at) VALUES (?, ?, ?)",
            [(album.id, i, now) for i in ids],
        )
        added = int(db.value("SELECT count(*) FROM album_files WHERE album_id = ?", (album.id,))) - int(before)
        if added:
            bump_generation(db)
    return added


def remove_from_album(db: Database, name: str, file_ids: Iterable[int]) -> int:
    with db.transaction():
        album = _require(db, name)
        removed = 0
        for i in set(int(x) for x in file_ids):
            db.execute("DELETE FROM album_files WHERE album_id = ? AND file_id = ?", (album.id, i))
            removed += db.changes()
        if removed:
            bump_generation(db)
    return removed


def album_file_ids(db: Database, name: str) -> list[int]:
    album = _require(db, name)
    return [int(r[0]) for r in db.tuples("SELECT file_id FROM album_files WHERE album_id = ? ORDER BY file_id", (album.id,))]


def add_favourites(db: Database, file_ids: Iterable[int]) -> int:
    now = time.time()
    with db.transaction():
        ids = _existing_ids(db, file_ids)
        added = 0
        for i in ids:
            db.execute("INSERT OR IGNORE INTO favourites (file_id, added_at) VALUES (?, ?)", (i, now))
            added += db.changes()
        if added:
            bump_generation(db)
    return added


def remove_favourites(db: Database, file_ids: Iterable[int]) -> int:
    with db.transaction():
        removed = 0
        for i in set(int(x) for x in file_ids):
            db.execute("DELETE FROM favourites WHERE file_id = ?", (i,))
            removed += db.changes()
        if removed:
            bump_generation(db)
    return removed


def favourite_ids(db: Database) -> list[int]:
    return [int(r[0]) for r in db.tuples("SELECT file_id FROM favourites ORDER BY file_id")]


def mark_file_pending(db: Database, file_id: int, size: int, mtime_ns: int, ctime_ns: int) -> None:
    """An original was rewritten through the mount: record its new size/times and queue phase 2 again
    (``files.mark_changed``, as a scan that sees the change does)."""
    with db.transaction():
        row = files_db.get_file(db, file_id)
        if row is None:  # it left the index meanwhile (a rescan, a trashed duplicate)
            return
        seen = ScannedFile(row.relpath, row.kind, size, mtime_ns, ctime_ns, row.device, row.inode)
        files_db.mark_changed(db, file_id, seen)
        bump_generation(db)
