"""Read-only queries behind the viewer's dashboard: totals, photos per month, cameras, lenses, file
types, sources and bytes per folder — each under the unified filters (``search.filter_clauses``,
the one translation of filters to SQL), each one pass over ``files`` (and ``metadata`` where the
panel or the filters need it). ``bench/bench_dashboard.py`` times them at 100,000 files.
"""

from __future__ import annotations

from typing import Any

from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec, filter_clauses

_KEY = "coalesce(m.sort_time, f.mtime_ns / 1e9)"  # the grid's date: taken, else modified
_JOINED = "FROM files f LEFT JOIN metadata m ON m.file_id = f.id"
TOP = 20  # cameras and lenses listed; the rest are counted together


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
    """('YYYY-MM', files) of the view, oldest first, by the grid's date."""
    where, params = _where(spec)
    rows = db.tuples(
        f"SELECT strftime('%Y-%m', {_KEY}, 'unixepoch') AS ym, count(*) {_JOINED}{where} GROUP BY ym ORDER BY ym",
        params,
    )
    return [(str(ym), int(n)) for ym, n in rows if ym is not None]


def _top(db: Database, spec: FilterSpec, expr: str, present: str, limit: int) -> dict[str, Any]:
    where, params = _where(spec, present)
    rows = db.tuples(f"SELECT {expr} AS v, count(*) AS n {_JOINED}{where} GROUP BY v ORDER BY n DESC, v", params)
    top = [(str(v), int(n)) for v, n in rows[:limit]]
    return {"top": top, "others": sum(int(n) for _, n in rows[limit:]), "kinds": len(rows)}


def cameras(db: Database, spec: FilterSpec, limit: int = TOP) -> dict[str, Any]:
    """The most common cameras ('make model', as the camera filter matches them) of the view."""
    expr = "trim(coalesce(m.make, '') || ' ' || coalesce(m.model, ''))"
    return _top(db, spec, expr, "(m.make IS NOT NULL OR m.model IS NOT NULL)", limit)


def lenses(db: Database, spec: FilterSpec, limit: int = TOP) -> dict[str, Any]:
    return _top(db, spec, "m.lens", "m.lens IS NOT NULL AND m.lens != ''", limit)


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
    any are listed only when the view is unfiltered)."""
    where, params = _where(spec)
    counts = {int(s): (int(n), int(b or 0)) for s, n, b in db.tuples(
        f"SELECT f.source_id, count(*), sum(f.size) {_JOINED}{where} GROUP BY f.source_id", params
    )}  # fmt: skip
    out = []
    for sid, name, online in db.tuples("SELECT id, name, online FROM sources ORDER BY name, id"):
        files, size = counts.get(int(sid), (0, 0))
        if files or spec.is_empty():
            out.append({"name": str(name), "online": bool(online), "files": files, "bytes": size})
    return out


def folders(db: Database, spec: FilterSpec) -> list[tuple[str, bytes, int, int]]:
    """(source name, folder relpath, files, bytes) of every folder holding files of the view."""
    where, params = _where(spec)
    join = _JOINED if where else "FROM files f"
    names = {int(i): str(n) for i, n in db.tuples("SELECT id, name FROM sources")}
    rows = db.tuples(
        f"SELECT f.source_id, f.dir, count(*), sum(f.size) {join}{where} GROUP BY f.source_id, f.dir", params
    )
    return [(names.get(int(s), f"source {s}"), bytes(d), int(n), int(b or 0)) for s, d, n, b in rows]
