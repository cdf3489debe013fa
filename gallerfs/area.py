"""A map area: the polygon a user drew on the map (a rectangle or a lasso), as one filter.

In URLs and on the command line an area is its vertices' latitudes and longitudes in decimal degrees,
all joined by ``_`` (``lat_lon_lat_lon_...``, at most 5 decimals; characters that need no escaping in a
URL), for example ``48.1_11.5_48.1_11.7_48.2_11.7_48.2_11.5`` for a rectangle. It has 3 to
``MAX_VERTICES`` vertices, latitudes in -90..90 and longitudes in -180..180; anything else is refused
with one line.

Which photos are inside is decided by the even-odd rule. Each edge is taken the short way round, so a
polygon may cross the antimeridian (from 170 to -170 is 20 degrees, not 340). Limits: a polygon must
span less than 360 degrees of longitude and must not enclose a pole; edges are straight lines in
latitude/longitude (what the map draws in Web Mercator, with north-south edges exactly so), not great
circles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gallerfs.errors import GallerfsError

MAX_VERTICES = 100
MAX_CHARS = MAX_VERTICES * 2 * 12  # '-179.12345_' is 11 characters
DECIMALS = 5


@dataclass(frozen=True)
class Area:
    lats: tuple[float, ...]
    lons: tuple[float, ...]  # unwrapped: consecutive vertices differ by at most 180 degrees

    def encode(self) -> str:
        return encode(list(zip(self.lats, [_wrap(x) for x in self.lons])))

    def bbox(self) -> tuple[float, float, float, float]:
        """(south, west, north, east); west < -180 or east > 180 when the area crosses the antimeridian."""
        return min(self.lats), min(self.lons), max(self.lats), max(self.lons)

    def lon_ranges(self) -> list[tuple[float, float]]:
        """The bounding box's longitudes as one or two ranges inside -180..180."""
        _, west, _, east = self.bbox()
        if west < -180:
            return [(west + 360, 180.0), (-180.0, east)]
        if east > 180:
            return [(west, 180.0), (-180.0, east - 360)]
        return [(west, east)]

    def contains(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Which points are inside (even-odd rule), for arrays of latitudes and longitudes in degrees."""
        lat = np.asarray(lats, dtype=np.float64)
        lon = np.asarray(lons, dtype=np.float64)
        inside = np.zeros(lat.shape, dtype=bool)
        _, west, _, east = self.bbox()
        for shift in (0.0, 360.0, -360.0):  # the point as seen from each side of the antimeridian
            x = lon + shift
            near = (x >= west) & (x <= east)
            if near.any():
                inside[near] |= _even_odd(self.lats, self.lons, lat[near], x[near])
        return inside


def _even_odd(py: tuple[float, ...], px: tuple[float, ...], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    inside = np.zeros(lat.shape, dtype=bool)
    n = len(py)
    for i in range(n):
        y1, x1, y2, x2 = py[i], px[i], py[i - 1], px[i - 1]
        if y1 == y2:
            continue
        crosses = (y1 > lat) != (y2 > lat)
        x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (lon < x_at)
    return inside


def _wrap(lon: float) -> float:
    return ((lon + 180.0) % 360.0) - 180.0 if not -180.0 <= lon <= 180.0 else lon


def _number(text: str) -> float:
    if not text or len(text) > 12 or not all(c in "0123456789.-+" for c in text):
        raise GallerfsError(f"area: {text[:20]!r} is not a number")
    try:
        value = float(text)
    except ValueError:
        raise GallerfsError(f"area: {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise GallerfsError(f"area: {text[:20]!r} is not a number")
    return value


def parse(text: str) -> Area:
    """An area from its text (see the module's doc); GallerfsError for anything malformed."""
    text = text.strip()
    if len(text) > MAX_CHARS:
        raise GallerfsError(f"area is longer than {MAX_CHARS} characters (at most {MAX_VERTICES} vertices)")
    values = [_number(part) for part in text.split("_")] if text else []
    if len(values) % 2:
        raise GallerfsError("area takes pairs of latitude and longitude: lat_lon_lat_lon_...")
    points = list(zip(values[0::2], values[1::2]))
    if len(points) >= 2 and points[0] == points[-1]:
        points.pop()  # a closed ring names its first vertex twice
    if not 3 <= len(points) <= MAX_VERTICES:
        raise GallerfsError(f"area needs 3 to {MAX_VERTICES} vertices, not {len(points)}")
    for lat, lon in points:
        if not -90.0 <= lat <= 90.0:
            raise GallerfsError(f"area: latitude {lat} is outside -90..90")
        if not -180.0 <= lon <= 180.0:
            raise GallerfsError(f"area: longitude {lon} is outside -180..180")
    lats = [round(lat, DECIMALS) for lat, _ in points]
    lons = [round(points[0][1], DECIMALS)]
    for _, lon in points[1:]:
        lon = round(lon, DECIMALS)
        step = lon - _wrap(lons[-1])
        if step > 180:
            step -= 360
        elif step < -180:
            step += 360
        lons.append(lons[-1] + step)
    if max(lons) - min(lons) >= 360:
        raise GallerfsError("area spans 360 degrees of longitude or more: draw a smaller one")
    doubled = sum(lons[i - 1] * lats[i] - lons[i] * lats[i - 1] for i in range(len(lats)))
    if abs(doubled) < 1e-10:
        raise GallerfsError("area has no extent: its vertices lie on one line")
    return Area(tuple(lats), tuple(lons))


def _fmt(value: float) -> str:
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def encode(points: list[tuple[float, float]]) -> str:
    """The text of an area with these (lat, lon) vertices."""
    return "_".join(f"{_fmt(lat)}_{_fmt(lon)}" for lat, lon in points)
