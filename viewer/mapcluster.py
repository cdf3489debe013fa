"""Server-side clustering for maps with more points than a browser should index (numpy, per request).

The view's positions are projected once to Web Mercator (x, y in 0..1). A request names a bounding
box and a zoom level; the points inside the box are grouped by a grid of ``CELL_PX`` screen pixels at
that zoom, and each occupied cell becomes one cluster at the mean position of its points (or, with a
single point, that point and its id). At 1,000,000 points a world view costs tens of milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gallerfs.db.map_queries import Positions

CELL_PX = 64  # a cluster gathers the points of a cell this many pixels wide
TILE_PX = 256
MAX_LAT = 85.05112878  # Web Mercator's limit


def mercator(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = (lon + 180.0) / 360.0
    s = np.sin(np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)))
    y = 0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)
    return x, y


@dataclass(frozen=True)
class Cluster:
    lat: float
    lon: float
    count: int
    id: int  # the photo's id when count == 1, else 0
    bounds: tuple[float, float, float, float]  # south, west, north, east of its points

    def as_list(self) -> list[float | int]:
        """[lat, lon, count, id, south, west, north, east], the bounds rounded outwards (a list by bbox keeps all)."""
        south, west, north, east = self.bounds
        out = (math.floor(south * 1e6) / 1e6, math.floor(west * 1e6) / 1e6,
               math.ceil(north * 1e6) / 1e6, math.ceil(east * 1e6) / 1e6)  # fmt: skip
        return [round(self.lat, 6), round(self.lon, 6), self.count, self.id, *out]


@dataclass
class PointIndex:
    positions: Positions
    x: np.ndarray = field(init=False)
    y: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.x, self.y = mercator(self.positions.lat, self.positions.lon)

    def __len__(self) -> int:
        return len(self.positions.ids)

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(south, west, north, east) of all the points, None without any."""
        lat, lon = self.positions.lat, self.positions.lon
        if not len(lat):
            return None
        return float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max())

    def inside(self, south: float, west: float, north: float, east: float) -> np.ndarray:
        """Indices of the points inside the box (west > east: the box crosses the antimeridian)."""
        lat, lon = self.positions.lat, self.positions.lon
        in_lat = (lat >= south) & (lat <= north)
        in_lon = (lon >= west) & (lon <= east) if west <= east else (lon >= west) | (lon <= east)
        return np.flatnonzero(in_lat & in_lon)

    def clusters(self, bbox: tuple[float, float, float, float], zoom: int) -> list[Cluster]:
        idx = self.inside(*bbox)
        if not len(idx):
            return []
        cells_per_side = (2**zoom) * TILE_PX // CELL_PX
        cx = np.minimum((self.x[idx] * cells_per_side).astype(np.int64), cells_per_side - 1)
        cy = np.minimum((self.y[idx] * cells_per_side).astype(np.int64), cells_per_side - 1)
        keys = cx * cells_per_side + cy
        order = np.argsort(keys, kind="stable")
        keys, idx = keys[order], idx[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        counts = np.diff(np.r_[starts, len(keys)])
        lat, lon = self.positions.lat[idx], self.positions.lon[idx]
        sums_lat = np.add.reduceat(lat, starts)
        sums_lon = np.add.reduceat(lon, starts)
        south, north = np.minimum.reduceat(lat, starts), np.maximum.reduceat(lat, starts)
        west, east = np.minimum.reduceat(lon, starts), np.maximum.reduceat(lon, starts)
        ids = self.positions.ids[idx[starts]]
        return [
            Cluster(float(sums_lat[i] / n), float(sums_lon[i] / n), int(n), int(ids[i]) if n == 1 else 0,
                    (float(south[i]), float(west[i]), float(north[i]), float(east[i])))
            for i, n in enumerate(counts.tolist())
        ]  # fmt: skip

    def ids_in(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """The ids of the points inside the box, ascending."""
        return self.positions.ids[self.inside(*bbox)]
