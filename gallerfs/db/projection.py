"""The clusters map's points (``projection_points``) and the linear map that placed them (``projection_fit``).

Written only by the indexer's ``project`` stage (``gallerfs.indexer.projection``); read by the
viewer's clusters page and by the cluster-selection filter (``region_sql``), which tests a point
against a polygon in SQL so that the grid, search and the mount's queries all agree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from gallerfs.db.connection import Database

if TYPE_CHECKING:
    from gallerfs.search.region import Region


@dataclass(frozen=True)
class Fit:
    fit: int
    method: str
    model: str
    space_created_at: float
    mean: np.ndarray  # float32 [dim]
    components: np.ndarray  # float32 [2, dim]
    fitted_n: int
    library_n: int
    fitted_at: float
    version: int

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """[n, 2] float32 coordinates of [n, dim] vectors."""
        points: np.ndarray = ((np.asarray(vectors, dtype=np.float32) - self.mean) @ self.components.T).astype(np.float32)
        return points


def get_fit(db: Database) -> Fit | None:
    rows = db.tuples(
        "SELECT fit, method, model, space_created_at, dim, mean, components, fitted_n, library_n, fitted_at, version "
        "FROM projection_fit WHERE id = 1"
    )
    if not rows:
        return None
    fit, method, model, created, dim, mean, comps, fitted_n, library_n, fitted_at, version = rows[0]
    return Fit(int(fit), str(method), str(model), float(created), np.frombuffer(mean, dtype=np.float32).copy(),
               np.frombuffer(comps, dtype=np.float32).reshape(2, int(dim)).copy(), int(fitted_n), int(library_n),
               float(fitted_at), int(version))  # fmt: skip


def current_fit_number(db: Database) -> int | None:
    value = db.value("SELECT fit FROM projection_fit WHERE id = 1")
    return None if value is None else int(value)


def save_fit(db: Database, method: str, model: str, space_created_at: float, mean: np.ndarray,
             components: np.ndarray, fitted_n: int, library_n: int) -> int:  # fmt: skip
    """Replace the map and drop every point (they are placed again); call inside a transaction.
    Returns the new fit number."""
    previous = current_fit_number(db) or 0
    mean32 = np.ascontiguousarray(mean, dtype=np.float32)
    comps32 = np.ascontiguousarray(components, dtype=np.float32)
    db.execute("DELETE FROM projection_points")
    db.execute(
        "INSERT OR REPLACE INTO projection_fit (id, fit, method, model, space_created_at, dim, mean, components, "
        "fitted_n, library_n, fitted_at, version) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        (previous + 1, method, model, space_created_at, int(mean32.shape[0]), mean32.tobytes(), comps32.tobytes(),
         int(fitted_n), int(library_n), time.time()),
    )  # fmt: skip
    return previous + 1


def to_place(db: Database, after_id: int, limit: int) -> list[tuple[int, float]]:
    """(file id, embedded_at) of vectors without a point or whose point is from an older vector, by id."""
    rows = db.tuples(
        "SELECT e.file_id, e.embedded_at FROM embeddings e LEFT JOIN projection_points p ON p.file_id = e.file_id "
        "WHERE e.state = 'done' AND e.file_id > ? AND (p.file_id IS NULL OR p.embedded_at != e.embedded_at) "
        "ORDER BY e.file_id LIMIT ?",
        (after_id, limit),
    )
    return [(int(r[0]), float(r[1])) for r in rows]


def count_to_place(db: Database) -> int:
    return int(db.value(
        "SELECT count(*) FROM embeddings e LEFT JOIN projection_points p ON p.file_id = e.file_id "
        "WHERE e.state = 'done' AND (p.file_id IS NULL OR p.embedded_at != e.embedded_at)"
    ))  # fmt: skip


def store_points(db: Database, points: Sequence[tuple[int, float, float, float]]) -> None:
    """(file id, x, y, embedded_at) rows; call inside a transaction."""
    if not points:
        return
    db.executemany("INSERT OR REPLACE INTO projection_points (file_id, x, y, embedded_at) VALUES (?, ?, ?, ?)", points)
    db.execute("UPDATE projection_fit SET version = version + 1 WHERE id = 1")


def drop_orphans(db: Database) -> int:
    """Remove points whose file has no vector any more; call inside a transaction. Returns how many."""
    before = point_count(db)
    db.execute(
        "DELETE FROM projection_points WHERE file_id NOT IN (SELECT file_id FROM embeddings WHERE state = 'done')"
    )
    gone = before - point_count(db)
    if gone:
        db.execute("UPDATE projection_fit SET version = version + 1 WHERE id = 1")
    return gone


def point_count(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM projection_points"))


def version(db: Database) -> tuple[Any, ...]:
    """Changes whenever the map or any point does (one row read)."""
    rows = db.tuples("SELECT fit, version FROM projection_fit WHERE id = 1")
    return tuple(rows[0]) if rows else (None, 0)


def points(db: Database) -> tuple[np.ndarray, np.ndarray]:
    """(ids int64 [n], coordinates float32 [n, 2]) of every point, by file id."""
    ids: list[int] = []
    xy: list[float] = []
    for file_id, x, y in db.iter_tuples("SELECT file_id, x, y FROM projection_points ORDER BY file_id"):
        ids.append(file_id)
        xy.append(x)
        xy.append(y)
    return np.array(ids, dtype=np.int64), np.array(xy, dtype=np.float32).reshape(-1, 2)


def region_sql(file_id: str, region: Region) -> tuple[str, list[Any]]:
    """The cluster-selection filter as a condition on ``file_id``: its point lies inside the polygon
    drawn on the current fit (a bounding-box test first, then the even-odd rule side by side)."""
    x0, x1, y0, y1 = region.bbox()
    terms: list[str] = []
    params: list[Any] = [region.fit, x0, x1, y0, y1]
    for ax, ay, bx, by in region.edges():
        if ay == by:
            continue  # a horizontal side never crosses the ray
        terms.append("((p.y >= ?) != (p.y >= ?) AND p.x < ? + (p.y - ?) * ?)")
        params.extend((ay, by, ax, ay, (bx - ax) / (by - ay)))
    parity = " + ".join(terms) if terms else "0"
    clause = (
        f"{file_id} IN (SELECT p.file_id FROM projection_points p WHERE "
        "(SELECT fit FROM projection_fit WHERE id = 1) = ? AND p.x BETWEEN ? AND ? AND p.y BETWEEN ? AND ? "
        f"AND ({parity}) % 2 = 1)"
    )
    return clause, params


def embedded_count(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM embeddings WHERE state = 'done'"))
