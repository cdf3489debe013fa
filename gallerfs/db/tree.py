"""Read queries behind the mount's virtual tree (``gallerfs.fs``).

Every function takes a ``Database`` (a read-only connection of the mount's
``ReaderPool``, used on a worker thread) and returns frozen rows. Paths and
names are raw bytes, as stored.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

_DAY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


@dataclass(frozen=True)
class SourceRow:
    id: int
    name: str
    path: bytes  # absolute root folder
    online: bool


class FileRow(NamedTuple):
    """What the mount needs to list and stat one library file (the one row type of a library file that
    listings, the journal and search results share; the indexer reads more: ``files.IndexedFile``).

    A NamedTuple rather than a frozen dataclass: listings build 100,000 of
    these at a time and a dataclass costs four times as much to create.
    """

    id: int
    source_id: int
    name: bytes
    size: int
    mtime_ns: int
    ctime_ns: int


class DatedFile(NamedTuple):
    file: FileRow
    taken_day: str | None  # 'YYYY-MM-DD' from the date taken, when known and valid


@dataclass(frozen=True)
class FileLocation:
    """Where an original lives, for opening it."""

    id: int
    source_path: bytes
    relpath: bytes
    online: bool

    @property
    def path(self) -> bytes:
        return self.source_path.rstrip(b"/") + b"/" + self.relpath


@dataclass(frozen=True)
class AlbumRow:
    id: int
    name: str
    created_at: float
    count: int


_FILE_COLS = "f.id, f.source_id, f.name, f.size, f.mtime_ns, f.ctime_ns"


def _file(row: tuple[Any, ...]) -> FileRow:
    return FileRow(row[0], row[1], bytes(row[2]), row[3], row[4], row[5])


def generation(db: Database) -> int:
    """The library's change counter (bumped by every committed write batch)."""
    return int(db.value("SELECT generation FROM library_state WHERE id = 1") or 0)


def list_sources(db: Database) -> list[SourceRow]:
    return [
        SourceRow(int(r[0]), str(r[1]), bytes(r[2]), bool(r[3]))
        for r in db.tuples("SELECT id, name, path, online FROM sources ORDER BY name, id")
    ]


def source_dirs(db: Database, source_id: int) -> list[bytes]:
    """Every folder of a source that holds at least one indexed file ('' is the root)."""
    return [bytes(r[0]) for r in db.tuples("SELECT DISTINCT dir FROM files WHERE source_id = ?", (source_id,))]


def files_in_dir(db: Database, source_id: int, dir: bytes) -> list[FileRow]:
    return [
        _file(r)
        for r in db.tuples(
            f"SELECT {_FILE_COLS} FROM files f WHERE f.source_id = ? AND f.dir = ? ORDER BY f.name, f.id",
            (source_id, dir),
        )
    ]


def dated_files(db: Database) -> list[DatedFile]:
    """All files with their date taken (by-date falls back to the file time in Python)."""
    out = []
    for r in db.tuples(
        f"SELECT {_FILE_COLS}, substr(m.taken_at, 1, 10) FROM files f "
        "LEFT JOIN metadata m ON m.file_id = f.id ORDER BY f.id"
    ):
        day = r[6]
        out.append(DatedFile(_file(r), day if isinstance(day, str) and _DAY.match(day) else None))
    return out


def file_row(db: Database, file_id: int) -> FileRow | None:
    rows = db.tuples(f"SELECT {_FILE_COLS} FROM files f WHERE f.id = ?", (file_id,))
    return _file(rows[0]) if rows else None


def file_rows(db: Database, file_ids: Iterable[int]) -> dict[int, FileRow]:
    """The rows of the given library files (ids no longer in the library are absent)."""
    ids = list(dict.fromkeys(file_ids))
    out: dict[int, FileRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.tuples(f"SELECT {_FILE_COLS} FROM files f WHERE f.id IN ({marks})", tuple(chunk)):
            out[r[0]] = _file(r)
    return out


def files_by_name_size_mtime(db: Database, name: bytes, size: int, mtime_ns: int) -> list[int]:
    """Files with this name, size and modification time (how a mount file is traced to its original)."""
    return [int(r[0]) for r in db.tuples(
        "SELECT id FROM files WHERE size = ? AND name = ? AND mtime_ns = ?", (size, name, mtime_ns)
    )]  # fmt: skip


def file_location(db: Database, file_id: int) -> FileLocation | None:
    rows = db.tuples(
        "SELECT f.id, s.path, f.relpath, s.online FROM files f JOIN sources s ON s.id = f.source_id WHERE f.id = ?",
        (file_id,),
    )
    if not rows:
        return None
    r = rows[0]
    return FileLocation(int(r[0]), bytes(r[1]), bytes(r[2]), bool(r[3]))


def files_named(db: Database, name: bytes, limit: int = 64) -> list[FileLocation]:
    """Library files with this exact name (candidates when a copy is dropped into an album)."""
    return [
        FileLocation(int(r[0]), bytes(r[1]), bytes(r[2]), bool(r[3]))
        for r in db.tuples(
            "SELECT f.id, s.path, f.relpath, s.online FROM files f JOIN sources s ON s.id = f.source_id "
            "WHERE f.name = ? ORDER BY f.id LIMIT ?",
            (name, limit),
        )
    ]


def files_with_hash(db: Database, size: int, content_hash: str) -> list[int]:
    return [
        int(r[0])
        for r in db.tuples(
            "SELECT id FROM files WHERE content_hash = ? AND size = ? ORDER BY id", (content_hash, size)
        )
    ]


def list_albums(db: Database) -> list[AlbumRow]:
    return [
        AlbumRow(int(r[0]), str(r[1]), float(r[2]), int(r[3]))
        for r in db.tuples(
            "SELECT a.id, a.name, a.created_at, (SELECT count(*) FROM album_files af WHERE af.album_id = a.id) "
            "FROM albums a ORDER BY a.name"
        )
    ]


def album_files(db: Database, album_id: int) -> list[FileRow]:
    return [
        _file(r)
        for r in db.tuples(
            f"SELECT {_FILE_COLS} FROM album_files af JOIN files f ON f.id = af.file_id "
            "WHERE af.album_id = ? ORDER BY f.name, f.id",
            (album_id,),
        )
    ]


def favourite_files(db: Database) -> list[FileRow]:
    return [
        _file(r)
        for r in db.tuples(
            f"SELECT {_FILE_COLS} FROM favourites fv JOIN files f ON f.id = fv.file_id ORDER BY f.name, f.id"
        )
    ]


def file_details(db: Database, file_id: int) -> dict[str, Any] | None:
    """Everything the library knows about one file, as plain JSON-able values."""
    row = db.row(
        "SELECT f.id, f.kind, f.size, f.mtime_ns, f.state, f.error, f.content_hash, f.relpath, "
        "s.name AS source, s.path AS source_root, s.online FROM files f JOIN sources s ON s.id = f.source_id "
        "WHERE f.id = ?",
        (file_id,),
    )
    if row is None:
        return None
    meta = db.row("SELECT * FROM metadata WHERE file_id = ?", (file_id,)) or {}
    relpath = bytes(row.pop("relpath"))
    root = bytes(row.pop("source_root"))
    row["source_path"] = (root.rstrip(b"/") + b"/" + relpath).decode("utf-8", "surrogateescape")
    row["online"] = bool(row["online"])
    meta.pop("file_id", None)
    row["metadata"] = {k: v for k, v in meta.items() if v is not None}
    row["albums"] = [
        r[0]
        for r in db.tuples(
            "SELECT a.name FROM album_files af JOIN albums a ON a.id = af.album_id WHERE af.file_id = ? "
            "ORDER BY a.name",
            (file_id,),
        )
    ]
    row["favourite"] = db.value("SELECT 1 FROM favourites WHERE file_id = ?", (file_id,)) is not None
    place = db.row("SELECT country, region, city FROM places WHERE file_id = ? AND country IS NOT NULL", (file_id,))
    if place:
        row["place"] = {k: v for k, v in place.items() if v is not None}
    return row


def source_status(db: Database) -> list[dict[str, Any]]:
    rows = db.rows(
        "SELECT s.id, s.name, s.path, s.online, s.offline_reason, s.fs_type, s.last_seen_at, s.last_scan_at, "
        "(SELECT count(*) FROM files f WHERE f.source_id = s.id) AS files FROM sources s ORDER BY s.name"
    )
    for r in rows:
        r["path"] = bytes(r["path"]).decode("utf-8", "surrogateescape")
        r["online"] = bool(r["online"])
    return rows


def recent_jobs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    return db.rows(
        "SELECT id, kind, source_id, state, total, done, failed, pid, heartbeat_at, created_at, started_at, "
        "finished_at, last_error FROM jobs ORDER BY (state IN ('queued', 'running')) DESC, id DESC LIMIT ?",
        (limit,),
    )


def library_stats(db: Database) -> dict[str, Any]:
    by_kind = {str(k): int(n) for k, n in db.tuples("SELECT kind, count(*) FROM files GROUP BY kind")}
    by_state = {str(k): int(n) for k, n in db.tuples("SELECT state, count(*) FROM files GROUP BY state")}
    return {
        "files": sum(by_kind.values()),
        "bytes": int(db.value("SELECT coalesce(sum(size), 0) FROM files")),
        "by_kind": by_kind,
        "by_state": by_state,
        "sources": int(db.value("SELECT count(*) FROM sources")),
        "sources_offline": int(db.value("SELECT count(*) FROM sources WHERE online = 0")),
        "albums": int(db.value("SELECT count(*) FROM albums")),
        "favourites": int(db.value("SELECT count(*) FROM favourites")),
        "failures": int(db.value("SELECT count(*) FROM failures")),
        "generation": generation(db),
    }
