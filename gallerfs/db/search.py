"""Search queries: the filters as SQL over indexed columns, and KNN over the vectors.

Filters (date range, camera, source, album, favourites, media kind, GPS, journal) are
turned into one WHERE clause over ``files`` / ``metadata`` whose selective
parts use indexes (``metadata_by_time``, ``album_files``, ``favourites``), so
a narrow filter reads only its own rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from gallerfs.db.connection import Database
from gallerfs.db.embeddings import VEC_TABLE, has_vector_table
from gallerfs.db.journal import journaled_sql

MAX_KNN_K = 4096  # sqlite-vec's limit on k
_IN_CHUNK = 900


@dataclass(frozen=True)
class FilterSpec:
    """Filters in database terms (already parsed and validated)."""

    since: float | None = None  # unix time, inclusive (metadata.sort_time)
    until: float | None = None  # unix time, exclusive
    camera: str | None = None  # substring of make + model, case-insensitive
    source: str | None = None  # source name
    album: str | None = None  # album name
    favourites: bool = False
    kinds: tuple[str, ...] = ()  # image, video, raw
    has_gps: bool | None = None
    journaled: bool = False  # linked from a journal entry

    def is_empty(self) -> bool:
        return self == FilterSpec()


def _where(spec: FilterSpec) -> tuple[str, list[Any]]:
    # '+' keeps SQLite from driving the query by the (unselective) state index, so a date range
    # starts from metadata_by_time, GPS from metadata_by_gps and albums from album_files.
    clauses, params = filter_clauses(spec)
    return " AND ".join(["+e.state = 'done'", *clauses]), params


def filter_clauses(spec: FilterSpec) -> tuple[list[str], list[Any]]:
    """The filters as SQL conditions on ``files f`` and ``metadata m`` (LEFT JOINed), with their
    parameters: the one translation of filters to SQL, used by search and by the viewer's grid."""
    clauses: list[str] = []
    params: list[Any] = []
    if spec.since is not None:
        clauses.append("m.sort_time >= ?")
        params.append(spec.since)
    if spec.until is not None:
        clauses.append("m.sort_time < ?")
        params.append(spec.until)
    if spec.camera:
        clauses.append("(coalesce(m.make, '') || ' ' || coalesce(m.model, '')) LIKE ? ESCAPE '\\'")
        escaped = spec.camera.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    if spec.source:
        clauses.append("f.source_id = (SELECT id FROM sources WHERE name = ?)")
        params.append(spec.source)
    if spec.album:
        clauses.append("f.id IN (SELECT af.file_id FROM album_files af JOIN albums a ON a.id = af.album_id WHERE a.name = ?)")
        params.append(spec.album)
    if spec.favourites:
        clauses.append("f.id IN (SELECT file_id FROM favourites)")
    if spec.kinds:
        clauses.append(f"f.kind IN ({', '.join('?' * len(spec.kinds))})")
        params.extend(spec.kinds)
    if spec.has_gps is True:
        clauses.append("m.latitude IS NOT NULL AND m.longitude IS NOT NULL")
    elif spec.has_gps is False:
        clauses.append("(m.latitude IS NULL OR m.longitude IS NULL)")
    if spec.journaled:
        clauses.append(journaled_sql())
    return clauses, params


_FROM = "FROM embeddings e JOIN files f ON f.id = e.file_id LEFT JOIN metadata m ON m.file_id = f.id"


def matching_ids(db: Database, spec: FilterSpec, limit: int) -> list[int]:
    """Ids of embedded files passing the filters, at most ``limit`` (ask limit+1 to learn 'more than')."""
    where, params = _where(spec)
    return [r[0] for r in db.tuples(f"SELECT f.id {_FROM} WHERE {where} LIMIT ?", (*params, limit))]


def filter_ids(db: Database, spec: FilterSpec, ids: Sequence[int]) -> set[int]:
    """The subset of ``ids`` passing the filters."""
    where, params = _where(spec)
    kept: set[int] = set()
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[i : i + _IN_CHUNK])
        rows = db.tuples(
            f"SELECT f.id {_FROM} WHERE f.id IN ({', '.join('?' * len(chunk))}) AND {where}", (*chunk, *params)
        )
        kept.update(r[0] for r in rows)
    return kept


def vector_count(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM embeddings WHERE state = 'done'"))


def knn(db: Database, query: np.ndarray, k: int, among: Sequence[int] | None = None) -> list[tuple[int, float]]:
    """(file id, cosine similarity) of the k nearest vectors, best first.

    ``among`` restricts the search to those files inside the vec0 scan itself
    (one query, however many ids), which is far cheaper than fetching their
    vectors one by one.
    """
    if not has_vector_table(db) or k <= 0 or (among is not None and len(among) == 0):
        return []
    blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
    k = min(k, MAX_KNN_K)
    if among is None:
        rows = db.tuples(
            f"SELECT file_id, distance FROM {VEC_TABLE} WHERE embedding MATCH ? AND k = ? ORDER BY distance",
            (blob, k),
        )
    else:
        rows = db.tuples(
            f"SELECT file_id, distance FROM {VEC_TABLE} WHERE embedding MATCH ? AND k = ? "
            "AND file_id IN (SELECT value FROM json_each(?)) ORDER BY distance",
            (blob, k, json.dumps([int(i) for i in among])),
        )
    return [(file_id, 1.0 - float(distance)) for file_id, distance in rows]


def sort_times(db: Database, ids: Sequence[int]) -> dict[int, float]:
    """metadata.sort_time (else the file's mtime) per file, for breaking ties by date."""
    out: dict[int, float] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[i : i + _IN_CHUNK])
        rows = db.tuples(
            "SELECT f.id, coalesce(m.sort_time, f.mtime_ns / 1e9) FROM files f LEFT JOIN metadata m "
            f"ON m.file_id = f.id WHERE f.id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        out.update((r[0], float(r[1] or 0.0)) for r in rows)
    return out


def hit_rows(db: Database, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What a result listing shows per file: source name, path, date, camera."""
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[i : i + _IN_CHUNK])
        rows = db.rows(
            "SELECT f.id, s.name AS source, s.path AS root, f.relpath, f.name, f.kind, m.taken_at, m.make, m.model "
            "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN metadata m ON m.file_id = f.id "
            f"WHERE f.id IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        out.update((r["id"], r) for r in rows)
    return out


def album_exists(db: Database, name: str) -> bool:
    return bool(db.value("SELECT count(*) FROM albums WHERE name = ?", (name,)))


def file_exists(db: Database, file_id: int) -> bool:
    return bool(db.value("SELECT count(*) FROM files WHERE id = ?", (file_id,)))


def file_by_relpath(db: Database, source_id: int, relpath: bytes) -> int | None:
    return db.value("SELECT id FROM files WHERE source_id = ? AND relpath = ?", (source_id, relpath))


def files_by_name_size_mtime(db: Database, name: bytes, size: int, mtime_ns: int) -> list[int]:
    """Files with this name, size and modification time (how a mount file is traced to its original)."""
    return [r[0] for r in db.tuples(
        "SELECT id FROM files WHERE size = ? AND name = ? AND mtime_ns = ?", (size, name, mtime_ns)
    )]  # fmt: skip
