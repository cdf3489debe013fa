"""Which country a point lies in, by Natural Earth's 1:10m country polygons (package data).

The data file holds the polygons of ``world-atlas`` 2.0.2, made valid and cut at
the antimeridian (see ``scripts/build_country_polygons.py`` for its provenance):
borders quantised to about 400 x 190 m. A point in no polygon (at sea, on a pier, on a coast the
polygons simplify away) takes the nearest polygon within ``NEAR_DEGREES``;
further out it has no country.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DATA_FILE = "countries-10m.npz"
BORDER_PIECE = 32  # vertices per piece of border in the nearest-border search
NEAR_DEGREES = 0.2  # about 22 km of latitude: territorial waters, ferries, piers, simplified coasts


@dataclass(frozen=True)
class Country:
    index: int
    code: str  # ISO 3166-1 alpha-2, '' for areas without one (reefs, disputed glaciers)
    name: str  # English


def _rings(data: Any) -> list[np.ndarray]:
    """Every ring as an (n, 2) array of lon/lat, from the per-ring delta-encoded millionths of a degree."""
    offsets = data["ring_offsets"]
    total = np.cumsum(data["ring_deltas"].astype(np.int64), axis=0)
    before = np.zeros((len(offsets) - 1, 2), dtype=np.int64)
    starts = offsets[:-1]
    before[starts > 0] = total[starts[starts > 0] - 1]
    points = (total - np.repeat(before, np.diff(offsets), axis=0)) / 1e6
    return [points[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


class CountryIndex:
    """The polygons, an STR tree over them, and batch point-in-polygon."""

    def __init__(self) -> None:
        import shapely

        ref = resources.files("gallerfs.places").joinpath("data", DATA_FILE)
        with resources.as_file(ref) as path, np.load(path) as data:
            rings = _rings(data)
            polygon_rings, country_polygons = data["polygon_rings"], data["country_polygons"]
            codes, names = data["codes"].tolist(), data["names"].tolist()
            self.source = str(data["source"])
        polygons = [
            shapely.Polygon(rings[polygon_rings[p]], rings[polygon_rings[p] + 1 : polygon_rings[p + 1]])
            for p in range(len(polygon_rings) - 1)
        ]
        self.countries = [Country(i, codes[i], names[i]) for i in range(len(codes))]
        self.geometries = np.array([
            shapely.MultiPolygon(polygons[country_polygons[c] : country_polygons[c + 1]]) for c in range(len(codes))
        ])  # fmt: skip
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        # The borders cut into short pieces: "the nearest polygon" of a point at sea is then an STR-tree
        # search among a few nearby pieces, not a distance to every vertex of a whole coastline.
        pieces, owners = [], []
        for c in range(len(codes)):
            for p in range(country_polygons[c], country_polygons[c + 1]):
                for ring in rings[polygon_rings[p] : polygon_rings[p + 1]]:
                    for start in range(0, len(ring) - 1, BORDER_PIECE):
                        piece = ring[start : start + BORDER_PIECE + 1]
                        if len(piece) >= 2:
                            pieces.append(piece)
                            owners.append(c)
        self.border_owner = np.array(owners, dtype=np.int64)
        self.border_tree = shapely.STRtree([shapely.LineString(p) for p in pieces])

    def locate(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        """The country index of each point, -1 for none (far out at sea, or not a valid coordinate)."""
        import shapely

        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        found = np.full(len(lat), -1, dtype=np.int64)
        valid = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        if not valid.any():
            return found
        which = np.flatnonzero(valid)
        points = shapely.points(lon[which], lat[which])
        point_idx, country_idx = self.tree.query(points)
        for c in np.unique(country_idx):
            cand = point_idx[country_idx == c]
            cand = cand[found[which[cand]] < 0]
            if len(cand):
                inside = shapely.contains_xy(self.geometries[c], lon[which[cand]], lat[which[cand]])
                found[which[cand[inside]]] = c
        missing = np.flatnonzero(found[which] < 0)
        if len(missing):
            near_in, near_piece = self.border_tree.query_nearest(
                points[missing], max_distance=NEAR_DEGREES, all_matches=False
            )
            found[which[missing[near_in]]] = self.border_owner[near_piece]
        return found


_lock = threading.Lock()
_index: CountryIndex | None = None


def country_index() -> CountryIndex:
    """The process's one index (loaded on first use, about 0.5 s)."""
    global _index
    with _lock:
        if _index is None:
            _index = CountryIndex()
        return _index


def country_names() -> list[tuple[str, str]]:
    """(code, English name) of every polygon, without building the polygons (for the query parser)."""
    ref = resources.files("gallerfs.places").joinpath("data", DATA_FILE)
    with resources.as_file(ref) as path, np.load(path) as data:
        return list(zip(data["codes"].tolist(), data["names"].tolist()))
