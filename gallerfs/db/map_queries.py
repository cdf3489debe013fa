"""Read-only queries behind the viewer's map: the GPS positions of a filtered view, and the few
details a marker's tooltip or a cluster's list shows.

Positions come from ``metadata`` (latitude/longitude, signed decimal degrees) for every file that has
both, filtered by ``search.filter_clauses`` like the grid, in id order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec, filter_clauses

_FETCH = 50_000


@dataclass(frozen=True)
class Positions:
    ids: np.ndarray  # int64, ascending
    lat: np.ndarray  # float64 degrees
    lon: np.ndarray


def positions(db: Database, spec: FilterSpec) -> Positions:
    """Every file of the view that has a GPS position."""
    clauses, params = filter_clauses(spec)
    where = " AND ".join(["m.latitude IS NOT NULL", "m.longitude IS NOT NULL", *clauses])
    join = "JOIN files f ON f.id = m.file_id"
    sql = f"SELECT m.file_id, m.latitude, m.longitude FROM metadata m {join} WHERE {where} ORDER BY m.file_id"
    chunks: list[np.ndarray] = []
    batch: list[tuple[Any, ...]] = []
    for row in db.iter_tuples(sql, params):
        batch.append(row)
        if len(batch) == _FETCH:
            chunks.append(np.array(batch, dtype=np.float64))
            batch = []
    if batch:
        chunks.append(np.array(batch, dtype=np.float64))
    arr = np.concatenate(chunks) if chunks else np.zeros((0, 3), dtype=np.float64)
    return Positions(arr[:, 0].astype(np.int64), arr[:, 1].copy(), arr[:, 2].copy())


def any_position(db: Database) -> bool:
    """Whether any file of the library has a GPS position (one index probe)."""
    return db.value("SELECT 1 FROM metadata WHERE latitude IS NOT NULL AND longitude IS NOT NULL LIMIT 1") is not None


def marker_items(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    """Name, kind, date, position, place ('City, Region, Country' as far as known) and thumbnail key of each
    file, in the given order (unknown ids left out)."""
    if not ids:
        return []
    rows = db.tuples(
        "SELECT f.id, f.kind, f.name, m.taken_at, m.latitude, m.longitude, "
        "coalesce(f.content_hash, f.size || '-' || f.mtime_ns), p.city, p.region, p.country "
        "FROM files f LEFT JOIN metadata m ON m.file_id = f.id LEFT JOIN places p ON p.file_id = f.id "
        "WHERE f.id IN (SELECT value FROM json_each(?))",
        (json.dumps([int(i) for i in ids]),),
    )
    by_id = {
        int(r[0]): {"id": int(r[0]), "kind": r[1], "name": bytes(r[2]).decode("utf-8", "replace"), "taken_at": r[3],
                    "lat": r[4], "lon": r[5], "thumb_key": str(r[6]),
                    "place": ", ".join(dict.fromkeys(x for x in r[7:10] if x)) or None}
        for r in rows
    }  # fmt: skip
    return [by_id[i] for i in ids if i in by_id]
