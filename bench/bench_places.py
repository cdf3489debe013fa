"""Benchmark offline reverse geocoding and query parsing; prints JSON.

- ``geocode``: ``ReverseGeocoder.reverse`` (country by polygon, city among that country's places) on
  ``--points`` coordinates, half scattered a few kilometres around GeoNames places (where photos are
  taken), half uniform over the globe (most of them at sea: the slow path, nearest border). The
  baseline, in the same run, is nearest-city matching alone (one KD-tree query over every place, what
  the reverse-geocode package does). Target (issue 13): 100k coordinates in under 10 s.
- ``parse``: ``query_parse.parse`` on a set of phrasings with a vocabulary of every country, the
  GeoNames gazetteer (loaded before timing) and a few cameras; median and 95th percentile per query,
  against tokenising the same queries (``str.split``). Target: under 5 ms a query.

    python bench/bench_places.py [--points 100000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GEOCODE_TARGET_S = 10.0
PARSE_TARGET_MS = 5.0
QUERIES = [
    "sunset in Italy, summer 2008", "taken with Nikon last July", "dog on the beach", "may flowers",
    "photos of my kids in Paris 2019-2021", "favourite videos from Spain last year", "red car",
    "between March 2019 and May 2019 hiking", "14 July 2019 fireworks", "the 90s birthday party",
    "cathedral in Arezzo", "snow in the mountains this winter", "shot on iphone 6 at night",
    "Bosnia and Herzegovina bridges", "a walk in nice weather", "raw files from 2010",
]  # fmt: skip


def bench_geocode(points: int) -> dict[str, object]:
    from gallerfs.places.countries import country_index
    from gallerfs.places.gazetteer import gazetteer, unit_vectors
    from gallerfs.places.geocode import ReverseGeocoder

    start = time.perf_counter()
    countries = country_index()
    loaded_countries = time.perf_counter()
    places = gazetteer()
    loaded = time.perf_counter()
    geocoder = ReverseGeocoder(countries=countries, places=places)
    rng = np.random.default_rng(13)
    near = points // 2
    idx = rng.integers(0, len(places), near)
    lat = np.concatenate([places.lat[idx] + rng.normal(0, 0.03, near), np.degrees(np.arcsin(rng.uniform(-1, 1, points - near)))])
    lon = np.concatenate([places.lon[idx] + rng.normal(0, 0.03, near), rng.uniform(-180, 180, points - near)])
    lat = np.clip(lat, -90, 90)
    lon = (lon + 180) % 360 - 180

    t = time.perf_counter()
    found = geocoder.reverse(lat, lon)
    geocode_s = time.perf_counter() - t
    t = time.perf_counter()
    places.tree.query(unit_vectors(lat, lon), k=1)  # the baseline: nearest city alone
    baseline_s = time.perf_counter() - t
    return {
        "points": points,
        "load_countries_s": round(loaded_countries - start, 3),
        "load_gazetteer_s": round(loaded - loaded_countries, 3),
        "reverse_s": round(geocode_s, 3),
        "points_per_s": round(points / geocode_s),
        "nearest_city_only_s": round(baseline_s, 3),
        "ratio_to_nearest_city_only": round(geocode_s / baseline_s, 1),
        "placed": sum(1 for p in found if p is not None),
        "target_s": GEOCODE_TARGET_S,
        "meets_target": geocode_s < GEOCODE_TARGET_S,
    }


def bench_parse(rounds: int) -> dict[str, object]:
    from gallerfs.places.countries import country_names
    from gallerfs.search.query_parse import PlaceName, Vocabulary, fold, parse
    from gallerfs.search.query_vocab import _gazetteer_lookup

    places = {fold(name): PlaceName(name, "country") for _, name in country_names()}
    places["arezzo"] = PlaceName("Arezzo", "city", "Italy", in_library=True)
    cameras = {"nikon": "nikon", "iphone": "iPhone", "iphone 6": "iPhone 6", "canon": "canon"}
    vocab = Vocabulary(places=places, cameras=cameras, gazetteer=_gazetteer_lookup, max_camera_words=2)
    today = dt.date(2026, 12, 1)
    t = time.perf_counter()
    _gazetteer_lookup("paris")  # loads it once, as a long-lived process would have
    gazetteer_s = time.perf_counter() - t
    per_query, per_split = [], []
    for _ in range(rounds):
        for q in QUERIES:
            t = time.perf_counter()
            parse(q, vocab, today)
            per_query.append(time.perf_counter() - t)
            t = time.perf_counter()
            q.split()
            per_split.append(time.perf_counter() - t)
    median = statistics.median(per_query) * 1000
    p95 = statistics.quantiles(per_query, n=20)[-1] * 1000
    return {
        "queries": len(QUERIES),
        "rounds": rounds,
        "gazetteer_names_load_s": round(gazetteer_s, 3),
        "median_ms": round(median, 4),
        "p95_ms": round(p95, 4),
        "ratio_to_split": round(statistics.median(per_query) / max(statistics.median(per_split), 1e-9), 1),
        "target_ms": PARSE_TARGET_MS,
        "meets_target": p95 < PARSE_TARGET_MS,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000, help="coordinates to reverse-geocode (100000)")
    ap.add_argument("--rounds", type=int, default=200, help="times each query is parsed (200)")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    result = {"geocode": bench_geocode(args.points), "parse": bench_parse(args.rounds)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
