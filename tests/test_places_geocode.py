"""Reverse geocoding by polygon and gazetteer: borders, bays, the sea, the city rule (no library)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from gallerfs.places.countries import country_index
from gallerfs.places.gazetteer import gazetteer, unit_vectors
from gallerfs.places.geocode import DEFAULT_MIN_POPULATION, ReverseGeocoder, choose


@pytest.fixture(scope="module")
def geocoder() -> ReverseGeocoder:
    return ReverseGeocoder()


def _country(code: str) -> int:
    return next(c.index for c in country_index().countries if c.code == code)


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / 111_320.0, lon + east_m / (111_320.0 * math.cos(math.radians(lat)))


def _nearest_city_code(lat: float, lon: float, min_population: int) -> str:
    """What nearest-city matching alone would say (the trap this design avoids)."""
    g = gazetteer()
    dist, idx = g.nearest(unit_vectors(np.array([lat]), np.array([lon])), 64)
    for i in idx[0]:
        if g.population[i] >= min_population:
            return str(g.codes[i])
    raise AssertionError("no large place near")


def _near_border(a: str, b: str, metres: float, samples: int) -> list[tuple[float, float, str]]:
    """Points `metres` from the shared border of countries a and b, on both sides, each labelled with
    the country whose polygon contains it (checked here with shapely, independently of the geocoder)."""
    index = country_index()
    ga, gb = index.geometries[_country(a)], index.geometries[_country(b)]
    shared = shapely.line_merge(shapely.intersection(ga.boundary, gb.boundary))
    assert shared.length > 0, f"{a} and {b} share no border"
    out = []
    for k in range(samples):
        p = shapely.line_interpolate_point(shared, (k + 0.5) / samples, normalized=True)
        q = shapely.line_interpolate_point(shared, min(1.0, (k + 0.5) / samples + 1e-4), normalized=True)
        dx, dy = q.x - p.x, q.y - p.y
        norm = math.hypot(dx * math.cos(math.radians(p.y)), dy) or 1.0
        for side in (1, -1):  # perpendicular to the border, both ways
            east, north = -dy / norm * metres * side, dx * math.cos(math.radians(p.y)) / norm * metres * side
            lat, lon = _offset(p.y, p.x, north, east)
            inside = [c for c, g in ((a, ga), (b, gb)) if shapely.contains_xy(g, lon, lat)]
            if len(inside) == 1:  # a point that lands on a third country or in a lake is no test of a/b
                out.append((lat, lon, inside[0]))
    return out


@pytest.mark.parametrize("a,b", [("FR", "CH"), ("US", "CA"), ("DE", "NL"), ("ES", "PT"), ("AT", "IT"), ("FI", "SE")])
def test_points_a_few_hundred_metres_from_a_border_get_the_country_they_are_in(geocoder, a, b):
    points = _near_border(a, b, 300.0, 25)
    assert len(points) >= 30
    found = geocoder.reverse(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    for (lat, lon, code), place in zip(points, found):
        assert place is not None and place.country_code == code, (lat, lon, code, place)
        if place.city is not None:  # the city is one of that country's places
            assert place.city in _cities_of(code), (lat, lon, place)


def _cities_of(code: str) -> set[str]:
    g = gazetteer()
    return {g.names[i] for i in np.flatnonzero(g.codes == code)}


def test_across_a_bay_or_river_from_a_bigger_foreign_city(geocoder):
    """Windsor (Canada) faces downtown Detroit across the Detroit River, Helsingør (Denmark) faces
    Helsingborg (Sweden) across the Øresund: nearest-city matching files these shores abroad."""
    cases = []
    for (lat, _lon), (code, box) in [
        ((42.3195, -83.0380), ("CA", (42.31, -83.06, 42.325, -83.02))),  # Windsor riverside
        ((56.0370, 12.6140), ("DK", (56.02, 12.58, 56.06, 12.63))),  # Helsingør harbour
    ]:
        index = country_index()
        g = index.geometries[_country(code)]
        rng = np.random.default_rng(7)
        lats = rng.uniform(box[0], box[2], 4000)
        lons = rng.uniform(box[1], box[3], 4000)
        coast = shapely.intersection(g.boundary, shapely.box(box[1], box[0], box[3], box[2]))
        inside = shapely.contains_xy(g, lons, lats)
        dist_m = shapely.distance(coast, shapely.points(lons, lats)) * 111_320 * math.cos(math.radians(lat))
        near = inside & (dist_m > 150) & (dist_m < 600)  # on land, a few hundred metres from the water
        cases += [(la, lo, code) for la, lo in zip(lats[near][:40], lons[near][:40])]
        assert near.sum() >= 10
    trapped = [c for c in cases if _nearest_city_code(c[0], c[1], 100_000) != c[2]]
    assert trapped, "the generated shores should be closer to the bigger city across the water"
    found = geocoder.reverse(np.array([c[0] for c in cases]), np.array([c[1] for c in cases]))
    for (lat, lon, code), place in zip(cases, found):
        assert place is not None and place.country_code == code, (lat, lon, place)
        assert place.city in _cities_of(code)


@pytest.mark.parametrize("lat,lon,country,region,city", [
    (43.4670816666639, 11.8845383333306, "Italy", "Tuscany", "Arezzo"),  # Nikon COOLPIX P6000 set
    (60.1699, 24.9384, "Finland", "Uusimaa", "Helsinki"),  # city centre, not one of its districts
    (42.3314, -83.0458, "United States", "Michigan", "Detroit"),
    (56.153775, 10.1993166666667, "Denmark", "Central Jutland", "Århus"),
    (4.93, -52.33, "France", "Guyane", "Cayenne"),  # overseas: GeoNames files it under GF
])  # fmt: skip
def test_known_places(geocoder, lat, lon, country, region, city):
    place = geocoder.reverse_one(lat, lon)
    assert place is not None
    assert (place.country, place.region, place.city) == (country, region, city)


def test_far_at_sea_and_invalid_positions_have_no_place(geocoder):
    found = geocoder.reverse(np.array([-37.3667, 0.0, float("nan"), 95.0]), np.array([122.0334, 0.0, 3.0, 3.0]))
    assert found == [None, None, None, None]


def test_a_beach_just_outside_the_simplified_coast_takes_the_nearest_country(geocoder):
    index = country_index()
    it = index.geometries[_country("IT")]
    # 2 km off the Tuscan coast at Viareggio, in the sea: within territorial waters.
    lat, lon = 43.8659, 10.2050
    assert not shapely.contains_xy(it, lon, lat)
    place = geocoder.reverse_one(lat, lon)
    assert place is not None and place.country == "Italy" and place.region == "Tuscany"


def test_the_city_rule_prefers_larger_places_but_not_far_away():
    pops = np.array([300, 2000, 40_000, 2_000_000])
    # a hamlet next door loses to a town 3 km away
    assert choose(np.array([0.4, 1.5, 3.0, 40.0]), pops, DEFAULT_MIN_POPULATION) == 2
    # standing in a village of 2,000, a town 6 km away does not take the photo
    assert choose(np.array([0.3, 6.0]), np.array([2000, 40_000]), DEFAULT_MIN_POPULATION) == 0
    # the centre of a city beats its district next door
    assert choose(np.array([0.3, 1.5]), np.array([12_000, 650_000]), DEFAULT_MIN_POPULATION) == 1
    # a big city beyond PREFER_MAX_KM never wins
    assert choose(np.array([1.0, 2.0, 14.0, 16.0]), np.array([6000, 6000, 6000, 9_000_000]), 5000) == 0
    # nothing within MAX_CITY_KM: no city
    assert choose(np.array([150.0, np.inf]), np.array([10_000, 0]), 5000) == -1
    # min_population decides what counts as small
    assert choose(np.array([0.5, 2.0]), np.array([3000, 9000]), 1000) == 0
    assert choose(np.array([0.5, 2.0]), np.array([3000, 9000]), 5000) == 1


def test_geocoding_is_deterministic(geocoder):
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(35, 60, 2000), rng.uniform(-10, 30, 2000)
    assert geocoder.reverse(lat, lon) == ReverseGeocoder().reverse(lat, lon)
