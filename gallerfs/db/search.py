"""Search queries: the filters as SQL over indexed columns, and KNN over the vectors.

Filters (date range, camera, source, album, favourites, media kind, GPS, journal) are
turned into one WHERE clause over ``files`` / ``metadata`` whose selective
parts use indexes (``metadata_by_time``, ``album_files``, ``favourites``), so
a narrow filter reads only its own rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from gallerfs.area import Area
from gallerfs.db.area import area_clause
from gallerfs.db.connection import Database
from gallerfs.db.embeddings import VEC_TABLE, has_vector_table
from gallerfs.db.journal import journaled_sql
from gallerfs.db.places import place_params, place_sql
from gallerfs.db.projection import region_sql

if TYPE_CHECKING:
    from gallerfs.search.region import Region

MAX_KNN_K = 4096  # sqlite-vec's limit on k
_IN_CHUNK = 900
_MAX_CAMERAS = 2000  # distinct (make, model) pairs listed through the index; more: the camera filter scans
_MAX_CAMERA_OR = 200  # matching pairs looked up one by one in metadata_by_camera; more: a scan


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
    area: Area | None = None  # a map area: GPS position inside this polygon
    cluster: Region | None = None  # a selection on the clusters map (its point inside the polygon)
    online: bool | None = None  # True: only files whose source is online; False: only offline ones
    places: tuple[str, ...] = ()  # the file's country, region or city is one of these (gallerfs.db.places)
    months: tuple[int, ...] = ()  # month of the year of metadata.sort_time (wall-clock), 1-12
    tag: str | None = None  # carries this tag (gallerfs.db.tags)
    person: str | None = None  # a person's name, 'person N' or id: the photos they are in

    def is_empty(self) -> bool:
        return self == FilterSpec()


def _camera_sql(make: str, model: str) -> str:
    """The camera rule, in one place: make and model, joined by a space, contain the text."""
    return f"(coalesce({make}, '') || ' ' || coalesce({model}, '')) LIKE ? ESCAPE '\\'"


def _camera_pattern(camera: str) -> str:
    escaped = camera.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _clauses(spec: FilterSpec, file_id: str, camera: tuple[str, list[Any]] | None = None) -> tuple[list[str], list[Any]]:
    """Each filter as SQL over ``m`` (metadata) and ``f`` (files), the file id being ``file_id``.

    ``camera``: the camera filter already narrowed to an index lookup (else the camera rule).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if spec.since is not None:
        clauses.append("m.sort_time >= ?")
        params.append(spec.since)
    if spec.until is not None:
        clauses.append("m.sort_time < ?")
        params.append(spec.until)
    if spec.camera:
        clause, values = camera or (_camera_sql("m.make", "m.model"), [_camera_pattern(spec.camera)])
        clauses.append(clause)
        params.extend(values)
    if spec.source:
        clauses.append("f.source_id = (SELECT id FROM sources WHERE name = ?)")
        params.append(spec.source)
    if spec.album:
        clauses.append(f"{file_id} IN (SELECT af.file_id FROM album_files af JOIN albums a ON a.id = af.album_id "
                       "WHERE a.name = ?)")  # fmt: skip
        params.append(spec.album)
    if spec.favourites:
        clauses.append(f"{file_id} IN (SELECT file_id FROM favourites)")
    if spec.kinds:
        clauses.append(f"f.kind IN ({', '.join('?' * len(spec.kinds))})")
        params.extend(spec.kinds)
    if spec.has_gps is True:
        clauses.append("m.latitude IS NOT NULL AND m.longitude IS NOT NULL")
    elif spec.has_gps is False:
        clauses.append("(m.latitude IS NULL OR m.longitude IS NULL)")
    if spec.journaled:
        clauses.append(journaled_sql())  # over f.id
    if spec.area is not None:
        clause, values = area_clause(spec.area, file_id)
        clauses.append(clause)
        params.extend(values)
    if spec.cluster is not None:
        clause, values = region_sql(file_id, spec.cluster)
        clauses.append(clause)
        params.extend(values)
    if spec.tag:
        clauses.append(f"{file_id} IN (SELECT file_id FROM tags WHERE tag = ?)")
        params.append(spec.tag)
    if spec.online is not None:  # the source's recorded presence, as the grid's badge and the mount read it
        clauses.append("f.source_id IN (SELECT id FROM sources WHERE online = ?)")
        params.append(1 if spec.online else 0)
    if spec.places:
        clauses.append("(" + " OR ".join(place_sql(file_id) for _ in spec.places) + ")")
        params.extend(v for p in spec.places for v in place_params(p))
    if spec.months:
        clauses.append(f"CAST(strftime('%m', m.sort_time, 'unixepoch') AS INTEGER) IN ({', '.join('?' * len(spec.months))})")
        params.extend(spec.months)
    if spec.person:
        from gallerfs.db.faces import person_filter_sql

        clause, values = person_filter_sql(file_id, spec.person)
        clauses.append(clause)
        params.extend(values)
    return clauses, params


def _where(spec: FilterSpec) -> tuple[str, list[Any]]:
    # '+' keeps SQLite from driving the query by the (unselective) state index, so a date range
    # starts from metadata_by_time, GPS from metadata_by_gps and albums from album_files.
    clauses, params = _clauses(spec, "f.id")
    return " AND ".join(["+e.state = 'done'", *clauses]), params


def filter_clauses(spec: FilterSpec) -> tuple[list[str], list[Any]]:
    """The filters as SQL conditions on ``files f`` and ``metadata m`` (LEFT JOINed), with their
    parameters: the one translation of filters to SQL, used by search and by the viewer's grid."""
    return _clauses(spec, "f.id")


_FROM = "FROM embeddings e JOIN files f ON f.id = e.file_id LEFT JOIN metadata m ON m.file_id = f.id"


def matching_ids(db: Database, spec: FilterSpec, limit: int) -> list[int]:
    """Ids of files passing the filters, at most ``limit`` (ask limit+1 to learn 'more than').

    These are search candidates: files among them without a vector are never found by the vector
    search, so a filter on metadata (dates, camera, GPS) reads only its own index entries and skips
    the per-row check of the embedding's state; other filters list embedded files only.
    """
    found = _metadata_query(db, spec)
    if found is None:
        where, params = _where(spec)
        return [r[0] for r in db.tuples(f"SELECT f.id {_FROM} WHERE {where} LIMIT ?", (*params, limit))]
    sql, params = found
    if not sql:
        return []
    return [r[0] for r in db.tuples(f"{sql} LIMIT ?", (*params, limit))]


def camera_pairs(db: Database, limit: int = _MAX_CAMERAS) -> list[tuple[str | None, str | None]] | None:
    """Every distinct (make, model) of metadata, found by seeks in metadata_by_camera; None if over ``limit``.

    A library holds a few dozen cameras among a million photos: stepping from one to the next
    through the index costs microseconds where ``SELECT DISTINCT`` reads every entry.
    """
    makes: list[str | None] = []
    if db.value("SELECT 1 FROM metadata WHERE make IS NULL LIMIT 1") is not None:
        makes.append(None)
    make = db.value("SELECT min(make) FROM metadata")
    while make is not None:
        makes.append(make)
        make = db.value("SELECT min(make) FROM metadata WHERE make > ?", (make,))
    pairs: list[tuple[str | None, str | None]] = []
    for make in makes:
        if db.value("SELECT 1 FROM metadata WHERE make IS ? AND model IS NULL LIMIT 1", (make,)) is not None:
            pairs.append((make, None))
        model = db.value("SELECT min(model) FROM metadata WHERE make IS ?", (make,))
        while model is not None:
            pairs.append((make, model))
            if len(pairs) > limit:
                return None
            model = db.value("SELECT min(model) FROM metadata WHERE make IS ? AND model > ?", (make, model))
    return pairs


def _cameras_matching(db: Database, pairs: list[tuple[str | None, str | None]], pattern: str) -> list[tuple[Any, Any]]:
    """The pairs the camera rule accepts, judged by SQLite itself (its LIKE, its NULLs)."""
    out: list[tuple[Any, Any]] = []
    for i in range(0, len(pairs), _IN_CHUNK // 2):
        chunk = pairs[i : i + _IN_CHUNK // 2]
        values = ", ".join("(?, ?)" for _ in chunk)
        out += db.tuples(
            f"SELECT column1, column2 FROM (VALUES {values}) WHERE {_camera_sql('column1', 'column2')}",
            (*(v for pair in chunk for v in pair), pattern),
        )
    return out


def _metadata_query(db: Database, spec: FilterSpec) -> tuple[str, list[Any]] | None:
    """A query driven by a metadata index, for specs that need a metadata row; None: use ``_where``.

    ("", []) means that nothing can match. Files without a metadata row fail every metadata clause
    (their columns are NULL), except a camera text that matches the empty camera (' '): those specs
    keep the general query.
    """
    if spec.since is None and spec.until is None and spec.has_gps is not True and not spec.camera and spec.area is None:
        return None
    camera = None
    if spec.camera:
        pattern = _camera_pattern(spec.camera)
        if db.value(f"SELECT {_camera_sql('NULL', 'NULL')}", (pattern,)):
            return None
        pairs = camera_pairs(db)
        matching = _cameras_matching(db, pairs, pattern) if pairs is not None else None
        if matching is not None and not matching:
            return "", []
        if matching is not None and len(matching) <= _MAX_CAMERA_OR:
            camera = ("(" + " OR ".join("(m.make IS ? AND m.model IS ?)" for _ in matching) + ")",
                      [v for pair in matching for v in pair])  # fmt: skip
    clauses, params = _clauses(spec, "m.file_id", camera)
    needs_files = spec.source or spec.kinds or spec.journaled or spec.online is not None
    join = " JOIN files f ON f.id = m.file_id" if needs_files else ""
    return f"SELECT m.file_id FROM metadata m{join} WHERE {' AND '.join(clauses)}", params


def dated_ids(db: Database, spec: FilterSpec, limit: int) -> list[int]:
    """Files passing the filters, embedded or not, newest first (a query with no words for CLIP)."""
    clauses, params = _clauses(spec, "f.id")
    return [r[0] for r in db.tuples(
        "SELECT f.id FROM files f LEFT JOIN metadata m ON m.file_id = f.id "
        f"WHERE {' AND '.join(clauses) or '1'} ORDER BY coalesce(m.sort_time, f.mtime_ns / 1e9) DESC, f.id DESC LIMIT ?",
        (*params, limit),
    )]  # fmt: skip


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


def filter_files(db: Database, spec: FilterSpec, ids: Sequence[int]) -> set[int]:
    """The subset of ``ids`` passing the filters, embedded or not (for signals that are not vectors)."""
    clauses, params = _clauses(spec, "f.id")
    where = " AND ".join(clauses) or "1"
    kept: set[int] = set()
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = list(ids[i : i + _IN_CHUNK])
        rows = db.tuples(
            f"SELECT f.id FROM files f LEFT JOIN metadata m ON m.file_id = f.id "
            f"WHERE f.id IN ({', '.join('?' * len(chunk))}) AND {where}", (*chunk, *params)
        )  # fmt: skip
        kept.update(r[0] for r in rows)
    return kept


def filter_version(db: Database) -> tuple[Any, ...]:
    """What the result of a filter depends on, besides journal links: changes when any of it does.

    The library generation (bumped by every writer of files, metadata, sources, albums and
    favourites) and the vector space with its version (bumped by every vector added or removed).
    """
    rows = db.tuples(
        "SELECT (SELECT generation FROM library_state WHERE id = 1), s.model, s.created_at, s.version "
        "FROM (SELECT 1) LEFT JOIN embedding_space s ON s.id = 1"
    )
    return tuple(rows[0])


def ids_json(ids: Sequence[int] | np.ndarray) -> str:
    """A list of ids as the JSON text ``knn(among=...)`` takes; worth keeping for repeated queries."""
    return json.dumps(ids.tolist() if isinstance(ids, np.ndarray) else [int(i) for i in ids])


def ids_json_chunks(ids: np.ndarray, size: int) -> list[str]:
    """``ids_json`` of each run of ``size`` ids: one ``knn`` call each."""
    return [ids_json(ids[i : i + size]) for i in range(0, len(ids), size)]


def vector_count(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM embeddings WHERE state = 'done'"))


def knn(db: Database, query: np.ndarray, k: int, among: Sequence[int] | str | None = None) -> list[tuple[int, float]]:
    """(file id, cosine similarity) of the k nearest vectors, best first.

    ``among`` restricts the search to those files inside the vec0 scan itself
    (one query, however many ids), which is far cheaper than fetching their
    vectors one by one; it is a list of ids or their ``ids_json`` text.
    """
    if isinstance(among, str):
        if among == "[]":
            return []
    elif among is not None:
        if len(among) == 0:
            return []
        among = ids_json(among)
    if not has_vector_table(db) or k <= 0:
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
            (blob, k, among),
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
