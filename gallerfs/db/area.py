"""The map-area filter in SQL: a bounding-box pre-filter the ``metadata_by_gps`` index answers, then the
exact point-in-polygon test (``gallerfs.area``, numpy) over the few rows inside the box.

Every connection gets the SQL function ``gfs_area_ids(area_text)``: the JSON list of ids of files whose
GPS position is inside the area. The filter's clause reads it through an uncorrelated subquery,
which SQLite evaluates once per statement, so the grid, search and every other user of
``search.filter_clauses`` apply one area the same way. Each connection keeps its last few answers
for the library generation they were computed at.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gallerfs.lru import LRU

if TYPE_CHECKING:
    from gallerfs.area import Area
    from gallerfs.db.connection import Database

FUNCTION = "gfs_area_ids"
CACHED_AREAS = 4


def bbox_sql(area: Area, lat: str = "m.latitude", lon: str = "m.longitude") -> tuple[str, list[Any]]:
    """The area's bounding box as SQL over these columns (two longitude ranges across the antimeridian)."""
    south, _, north, _ = area.bbox()
    ranges = area.lon_ranges()
    lon_sql = " OR ".join(f"{lon} BETWEEN ? AND ?" for _ in ranges)
    return f"{lat} BETWEEN ? AND ? AND ({lon_sql})", [south, north, *(v for r in ranges for v in r)]


def ids_inside(db: Database, area: Area) -> list[int]:
    """Ids of files with a GPS position inside the area, in id order."""
    import numpy as np

    where, params = bbox_sql(area, "latitude", "longitude")
    rows = db.tuples(f"SELECT file_id, latitude, longitude FROM metadata WHERE {where} ORDER BY file_id", params)
    if not rows:
        return []
    arr = np.array(rows, dtype=np.float64)
    keep = area.contains(arr[:, 1], arr[:, 2])
    ids: list[int] = arr[keep, 0].astype(np.int64).tolist()
    return ids


def register(db: Database) -> None:
    """Give this connection ``gfs_area_ids``."""
    cache: LRU[tuple[int, str], str] = LRU(CACHED_AREAS)

    def area_ids(*args: Any) -> str:  # SQL: gfs_area_ids(area_text)
        from gallerfs import area as area_mod
        from gallerfs.db.state import generation

        key = (generation(db), str(args[0]))
        return cache.get_or_compute(key, lambda: json.dumps(ids_inside(db, area_mod.parse(key[1]))))

    db.conn.create_scalar_function(FUNCTION, area_ids, 1)


def area_clause(area: Area, file_id: str) -> tuple[str, list[Any]]:
    """The whole filter: inside the box (index-driven) and inside the polygon (the function)."""
    box, params = bbox_sql(area)
    return f"{box} AND {file_id} IN (SELECT value FROM json_each({FUNCTION}(?)))", [*params, area.encode()]
