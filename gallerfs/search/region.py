"""A selection on the clusters map: a polygon in the 2-D space of one projection fit.

Written in a URL as ``FIT:x,y;x,y;...`` (``cluster=3:0.1,-0.2;0.3,-0.2;0.2,0.1``): the fit number
(``projection_fit.fit``) keeps a selection drawn on an older map from silently meaning other photos
once the map is recomputed. Between 3 and ``MAX_VERTICES`` vertices, finite coordinates; the
polygon closes itself. A point is inside by the even-odd rule, the same in SQL
(``gallerfs.db.projection.region_sql``) and here (``contains``, for tests and benchmarks).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from gallerfs.errors import GallerfsError

MAX_VERTICES = 64
MAX_TEXT = 2048
MAX_COORD = 1e6
_TEXT = re.compile(r"^(\d{1,9}):(.+)$")


@dataclass(frozen=True)
class Region:
    fit: int
    xs: tuple[float, ...]
    ys: tuple[float, ...]

    def bbox(self) -> tuple[float, float, float, float]:
        return min(self.xs), max(self.xs), min(self.ys), max(self.ys)

    def edges(self) -> list[tuple[float, float, float, float]]:
        """(x1, y1, x2, y2) of each side, the last back to the first."""
        n = len(self.xs)
        return [(self.xs[i], self.ys[i], self.xs[(i + 1) % n], self.ys[(i + 1) % n]) for i in range(n)]

    def text(self) -> str:
        return f"{self.fit}:" + ";".join(f"{_num(x)},{_num(y)}" for x, y in zip(self.xs, self.ys))

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Which points are inside (even-odd rule; the same test as the SQL)."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)  # as SQLite computes
        inside = np.zeros(len(x), dtype=bool)
        for x1, y1, x2, y2 in self.edges():
            if y1 == y2:
                continue
            crosses = (y >= y1) != (y >= y2)
            inside ^= crosses & (x < x1 + (y - y1) * ((x2 - x1) / (y2 - y1)))
        return inside


def _num(v: float) -> str:
    return f"{v:.6g}"


def parse(text: str) -> Region:
    """A region from its URL text; a GallerfsError says what is wrong."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise GallerfsError(f"cluster selection is longer than {MAX_TEXT} characters")
    m = _TEXT.match(text)
    if not m:
        raise GallerfsError("cluster selection takes FIT:x,y;x,y;x,y (at least three points)")
    xs: list[float] = []
    ys: list[float] = []
    for pair in m[2].split(";"):
        parts = pair.split(",")
        if len(parts) != 2:
            raise GallerfsError(f"cluster selection: {pair[:40]!r} is not a point x,y")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise GallerfsError(f"cluster selection: {pair[:40]!r} is not a point x,y") from None
        if not (math.isfinite(x) and math.isfinite(y)) or abs(x) > MAX_COORD or abs(y) > MAX_COORD:
            raise GallerfsError(f"cluster selection: {pair[:40]!r} is out of range")
        xs.append(x)
        ys.append(y)
    if not 3 <= len(xs) <= MAX_VERTICES:
        raise GallerfsError(f"cluster selection needs 3 to {MAX_VERTICES} points, not {len(xs)}")
    return Region(int(m[1]), tuple(xs), tuple(ys))
