"""Sources: the folders a user added."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, NewType

from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.errors import GallerfsError, UnknownSourceError

SourceId = NewType("SourceId", int)

_COLUMNS = (
    "id, name, path, mount_point, fs_uuid, fs_type, device, root_inode, online, offline_reason, "
    "added_at, last_seen_at, last_scan_at"
)


@dataclass(frozen=True)
class Source:
    id: SourceId
    name: str
    path: bytes
    mount_point: bytes
    fs_uuid: str | None
    fs_type: str | None
    device: int | None
    root_inode: int | None
    online: bool
    offline_reason: str | None
    added_at: float
    last_seen_at: float | None
    last_scan_at: float | None


def _source(row: tuple[Any, ...]) -> Source:
    values = list(row)
    values[8] = bool(values[8])
    return Source(*values)


def list_sources(db: Database) -> list[Source]:
    return [_source(r) for r in db.tuples(f"SELECT {_COLUMNS} FROM sources ORDER BY name")]


def get_source(db: Database, source_id: int) -> Source | None:
    rows = db.tuples(f"SELECT {_COLUMNS} FROM sources WHERE id = ?", (source_id,))
    return _source(rows[0]) if rows else None


def find_source(db: Database, name_or_path: str | bytes) -> Source:
    """A source by name, or by its folder's path; one-line error if there is none."""
    if isinstance(name_or_path, str):
        rows = db.tuples(f"SELECT {_COLUMNS} FROM sources WHERE name = ?", (name_or_path,))
        if rows:
            return _source(rows[0])
        import os

        as_path = os.fsencode(os.path.abspath(os.path.expanduser(name_or_path)))
    else:
        as_path = name_or_path
    rows = db.tuples(f"SELECT {_COLUMNS} FROM sources WHERE path = ?", (as_path.rstrip(b"/") or b"/",))
    if rows:
        return _source(rows[0])
    known = ", ".join(s.name for s in list_sources(db)) or "none yet"
    raise UnknownSourceError(f"no source named {name_or_path!r} (sources: {known})")


def source_containing(db: Database, path: bytes) -> Source | None:
    """The source whose folder contains path (deepest first)."""
    best = None
    for source in list_sources(db):
        root = source.path.rstrip(b"/") + b"/"
        if path == source.path or path.startswith(root):
            if best is None or len(source.path) > len(best.path):
                best = source
    return best


def add_source(
    db: Database,
    *,
    name: str,
    path: bytes,
    mount_point: bytes,
    fs_uuid: str | None,
    fs_type: str | None,
    device: int,
    root_inode: int,
) -> Source:
    if db.value("SELECT 1 FROM sources WHERE name = ?", (name,)):
        raise GallerfsError(f"a source named {name!r} already exists (choose another with --name)")
    if db.value("SELECT 1 FROM sources WHERE path = ?", (path,)):
        raise GallerfsError(f"{path.decode('utf-8', 'replace')} is already a source")
    for other in list_sources(db):
        a, b = other.path.rstrip(b"/") + b"/", path.rstrip(b"/") + b"/"
        if a.startswith(b) or b.startswith(a):
            raise GallerfsError(
                f"{path.decode('utf-8', 'replace')} overlaps source {other.name!r} "
                f"({other.path.decode('utf-8', 'replace')}); sources may not nest"
            )
    now = time.time()
    with db.transaction():
        db.execute(
            "INSERT INTO sources (name, path, mount_point, fs_uuid, fs_type, device, root_inode, online, "
            "added_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (name, path, mount_point, fs_uuid, fs_type, device, root_inode, now, now),
        )
        source_id = db.last_rowid()
        bump_generation(db)
    found = get_source(db, source_id)
    assert found is not None
    return found


def remove_source(db: Database, source_id: int) -> int:
    """Forget a source and everything indexed from it; returns the number of files forgotten."""
    with db.transaction():
        count = int(db.value("SELECT count(*) FROM files WHERE source_id = ?", (source_id,)))
        db.execute("DELETE FROM sources WHERE id = ?", (source_id,))
        bump_generation(db)
    return count


def set_presence(
    db: Database,
    source_id: int,
    *,
    online: bool,
    reason: str | None,
    device: int | None = None,
    root_inode: int | None = None,
) -> bool:
    """Record whether a source is online; returns True when that changed."""
    with db.transaction():
        was = db.value("SELECT online FROM sources WHERE id = ?", (source_id,))
        if online:
            db.execute(
                "UPDATE sources SET online = 1, offline_reason = NULL, last_seen_at = ?, "
                "device = coalesce(?, device), root_inode = coalesce(?, root_inode) WHERE id = ?",
                (time.time(), device, root_inode, source_id),
            )
        else:
            db.execute("UPDATE sources SET online = 0, offline_reason = ? WHERE id = ?", (reason, source_id))
        changed = bool(was) != online
        if changed:
            bump_generation(db)
    return changed


def mark_scanned(db: Database, source_id: int) -> None:
    db.execute("UPDATE sources SET last_scan_at = ? WHERE id = ?", (time.time(), source_id))


# The analysis jobs a source can opt out of (``gallerfs sources set NAME --no-ocr``); on by default.
ANALYSIS_KINDS = ("ocr", "faces", "tags")


def _check_kind(kind: str) -> None:
    if kind not in ANALYSIS_KINDS:
        raise GallerfsError(f"unknown analysis kind {kind!r} (known: {', '.join(ANALYSIS_KINDS)})")


def analysis_enabled(db: Database, source_id: int, kind: str) -> bool:
    """Whether the analysis job ``kind`` (ocr, faces, tags) runs on this source's files."""
    _check_kind(kind)
    return not db.value("SELECT 1 FROM source_analysis_off WHERE source_id = ? AND kind = ?", (source_id, kind))


def analysis_settings(db: Database, source_id: int) -> dict[str, bool]:
    """Every analysis kind with whether it is on for this source."""
    off = {r[0] for r in db.tuples("SELECT kind FROM source_analysis_off WHERE source_id = ?", (source_id,))}
    return {kind: kind not in off for kind in ANALYSIS_KINDS}


def set_analysis(db: Database, source_id: int, kind: str, enabled: bool) -> bool:
    """Turn an analysis job on or off for a source; returns True when that changed anything."""
    _check_kind(kind)
    with db.transaction():
        was = analysis_enabled(db, source_id, kind)
        if enabled:
            db.execute("DELETE FROM source_analysis_off WHERE source_id = ? AND kind = ?", (source_id, kind))
        else:
            db.execute("INSERT OR IGNORE INTO source_analysis_off (source_id, kind, off_at) VALUES (?, ?, ?)",
                       (source_id, kind, time.time()))  # fmt: skip
    return was != enabled
