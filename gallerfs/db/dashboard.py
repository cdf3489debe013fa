"""Read-only queries behind the viewer's dashboard: totals, photos per month, cameras, lenses, file
types, sources and bytes per folder — each under the unified filters (``search.filter_clauses``,
the one translation of filters to SQL), each one pass over ``files`` (and ``metadata`` where the
panel or the filters need it). ``bench/bench_dashboard.py`` times them at 100,000 files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec, filter_clauses

_KEY = "coalesce(m.sort_time, f.mtime_ns / 1e9)"  # the grid's date: taken, else modified
# NOT INDEXED: a filter on the source (f.source_id = ...) would otherwise be answered through an index
# of files led by source_id, visiting the rows of a whole source one by one in that index's order
# (580 ms against 45 ms for a full scan at 100k); rows are still found by id, and metadata's indexes
# still drive selective filters (dates, GPS).
_JOINED = "FROM files f NOT INDEXED LEFT JOIN metadata m ON m.file_id = f.id"
TOP = 20  # cameras and lenses listed; the rest are counted together
MAX_SOURCE_COLUMNS = 64  # sources counted side by side in one scan; more: a GROUP BY
_EPOCH = dt.date(1970, 1, 1)


def _where(spec: FilterSpec, *extra: str) -> tuple[str, list[Any]]:
    clauses, params = filter_clauses(spec)
    clauses = [*clauses, *extra]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def totals(db: Database, spec: FilterSpec) -> dict[str, Any]:
    """files, photos (images and RAW), videos, bytes, and the first and last date (unix time) of the view."""
    where, params = _where(spec)
    row = db.tuples(
        f"SELECT count(*), coalesce(sum(f.kind != 'video'), 0), coalesce(sum(f.kind = 'video'), 0), "
        f"coalesce(sum(f.size), 0), min({_KEY}), max({_KEY}) {_JOINED}{where}",
        params,
    )[0]
    return {"files": int(row[0]), "photos": int(row[1]), "videos": int(row[2]), "bytes": int(row[3]),
            "first": row[4], "last": row[5]}  # fmt: skip


def per_month(db: Database, spec: FilterSpec) -> list[tuple[str, int]]:
    """('YYYY-MM', files) of the view, oldest first, by the grid's date.

    Grouped by whole days in SQL (an integer key: half the cost of formatting a month for each of
    100,000 rows) and the days summed into months here."""
    where, params = _where(spec)
    rows = db.tuples(
        f"SELECT CAST(floor({_KEY} / 86400) AS INTEGER) AS d, count(*) {_JOINED}{where} GROUP BY d", params
    )
    months: dict[str, int] = {}
    for d, n in rows:
        if d is None:
            continue
        day = _EPOCH + dt.timedelta(days=int(d))
        key = f"{day.year:04}-{day.month:02}"
        months[key] = months.get(key, 0) + int(n)
    return sorted(months.items())


def _from_metadata(spec: FilterSpec, *extra: str) -> tuple[str, list[Any]]:
    """FROM and WHERE for a panel read from metadata's own indexes (files joined only for filters)."""
    clauses, params = filter_clauses(spec)
    join = " JOIN files f NOT INDEXED ON f.id = m.file_id" if clauses else ""
    return f"FROM metadata m{join} WHERE " + " AND ".join([*extra, *clauses]), params


def _top(counts: dict[str, int], limit: int) -> dict[str, Any]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {"top": ranked[:limit], "others": sum(n for _, n in ranked[limit:]), "kinds": len(ranked)}


def cameras(db: Database, spec: FilterSpec, limit: int = TOP) -> dict[str, Any]:
    """The most common cameras ('make model', as the camera filter matches them) of the view, counted
    per (make, model) in the order of metadata_by_camera."""
    sql, params = _from_metadata(spec, "(m.make IS NOT NULL OR m.model IS NOT NULL)")
    counts: dict[str, int] = {}
    for make, model, n in db.tuples(f"SELECT m.make, m.model, count(*) {sql} GROUP BY m.make, m.model", params):
        name = f"{make or ''} {model or ''}".strip(" ")  # as trim() in the camera rule
        if name:
            counts[name] = counts.get(name, 0) + int(n)
    return _top(counts, limit)


def lenses(db: Database, spec: FilterSpec, limit: int = TOP) -> dict[str, Any]:
    sql, params = _from_metadata(spec, "m.lens IS NOT NULL", "m.lens != ''")
    rows = db.tuples(f"SELECT m.lens, count(*) {sql} GROUP BY m.lens", params)
    return _top({str(lens): int(n) for lens, n in rows}, limit)


def places(db: Database, spec: FilterSpec, limit: int = TOP) -> dict[str, Any]:
    """The most common places of the view: cities as 'City, Country' (or the region, or the country,
    where no city is known), from the places indexer stage."""
    where, params = _where(spec, "p.country IS NOT NULL")
    rows = db.tuples(
        f"SELECT coalesce(p.city, p.region), p.country, count(*) {_JOINED} JOIN places p ON p.file_id = f.id{where} "
        "GROUP BY p.city, p.region, p.country",
        params,
    )
    counts: dict[str, int] = {}
    for local, country, n in rows:
        name = f"{local}, {country}" if local else str(country)
        counts[name] = counts.get(name, 0) + int(n)
    return _top(counts, limit)


def file_types(db: Database, spec: FilterSpec) -> list[dict[str, Any]]:
    """Per kind (image, raw, video) and decoded format (JPEG, HEIF, MP4, ...): files and bytes."""
    where, params = _where(spec)
    rows = db.tuples(
        f"SELECT f.kind, coalesce(m.format, '') AS fmt, count(*), sum(f.size) {_JOINED}{where} "
        "GROUP BY f.kind, fmt ORDER BY count(*) DESC",
        params,
    )
    return [{"kind": str(k), "format": str(fmt), "files": int(n), "bytes": int(b or 0)} for k, fmt, n, b in rows]


def sources(db: Database, spec: FilterSpec) -> list[dict[str, Any]]:
    """Every source with its online state and the files and bytes of the view on it (sources without
    any are listed only when the view is unfiltered).

    A library has a handful of sources: each gets its own pair of sums in one scan, which costs a
    fraction of a GROUP BY (whose sort of 100,000 rows took most of the time)."""
    where, params = _where(spec)
    listed = db.tuples("SELECT id, name, online FROM sources ORDER BY name, id")
    join = _JOINED if where else "FROM files f"
    counts: dict[int, tuple[int, int]] = {}
    if 0 < len(listed) <= MAX_SOURCE_COLUMNS:
        ids = [int(r[0]) for r in listed]
        cols = ", ".join(f"coalesce(sum(f.source_id = {i}), 0), coalesce(sum(CASE WHEN f.source_id = {i} THEN f.size END), 0)"
                         for i in ids)  # fmt: skip
        row = db.tuples(f"SELECT {cols} {join}{where}", params)[0]
        counts = {i: (int(row[2 * k]), int(row[2 * k + 1])) for k, i in enumerate(ids)}
    elif listed:
        counts = {int(s): (int(n), int(b or 0)) for s, n, b in db.tuples(
            f"SELECT f.source_id, count(*), sum(f.size) {join}{where} GROUP BY f.source_id", params
        )}  # fmt: skip
    out = []
    for sid, name, online in listed:
        files, size = counts.get(int(sid), (0, 0))
        if files or spec.is_empty():
            out.append({"name": str(name), "online": bool(online), "files": files, "bytes": size})
    return out


def folders(db: Database, spec: FilterSpec) -> list[tuple[str, bytes, int, int]]:
    """(source name, folder relpath, files, bytes) of every folder holding files of the view.

    The whole library is read in the order of files_by_dir_size (no row is visited); a filtered view
    scans the table itself and groups what passes (following the index there would visit every row
    in folder order, at random: 530 ms against 65 ms at 100k for a camera filter)."""
    where, params = _where(spec)
    join = _JOINED if where else "FROM files f"
    names = {int(i): str(n) for i, n in db.tuples("SELECT id, name FROM sources")}
    rows = db.tuples(
        f"SELECT f.source_id, f.dir, count(*), sum(f.size) {join}{where} GROUP BY f.source_id, f.dir", params
    )
    return [(names.get(int(s), f"source {s}"), bytes(d), int(n), int(b or 0)) for s, d, n, b in rows]
