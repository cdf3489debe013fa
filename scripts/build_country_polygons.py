"""Build gallerfs/places/data/countries-10m.npz, the country polygons the reverse geocoder decides countries by.

Provenance: Natural Earth 1:10m Admin 0 countries (version 4.1.0, public domain), as redistributed in the
npm package ``world-atlas`` 2.0.2 (file ``countries-10m.json``, TopoJSON, ISC licence for the packaging).
The TopoJSON (quantised to about 400 x 190 m) is turned into valid polygons once, here: rings that jump
across the antimeridian are cut there (Russia, Fiji), self-intersections the quantisation made are
repaired (shapely ``make_valid``, too slow to run at every start). The output holds every ring
(millionths of a degree, delta-encoded) and one row per country: its ISO 3166-1 alpha-2 code and
English name. Nothing of this runs at gallerfs run time; the output file is package data.

Run at development time (the npm registry and pycountry, for the numeric -> alpha-2 table, are needed
only here)::

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python -m pip install --target /tmp/pyc pycountry
    PYTHONPATH=/tmp/pyc python scripts/build_country_polygons.py package/countries-10m.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "gallerfs" / "places" / "data" / "countries-10m.npz"
MICRO = 1_000_000  # coordinates are stored in millionths of a degree, delta-encoded per ring
SOURCE = "Natural Earth 10m Admin 0 countries v4.1.0 (public domain) via npm world-atlas 2.0.2 countries-10m.json"

# Natural Earth's abbreviated names, written out.
NAMES = {
    "Antigua and Barb.": "Antigua and Barbuda",
    "Bosnia and Herz.": "Bosnia and Herzegovina",
    "Br. Indian Ocean Ter.": "British Indian Ocean Territory",
    "British Virgin Is.": "British Virgin Islands",
    "Cayman Is.": "Cayman Islands",
    "Central African Rep.": "Central African Republic",
    "Clipperton I.": "Clipperton Island",
    "Cook Is.": "Cook Islands",
    "Coral Sea Is.": "Coral Sea Islands",
    "Dem. Rep. Congo": "Democratic Republic of the Congo",
    "Dominican Rep.": "Dominican Republic",
    "Eq. Guinea": "Equatorial Guinea",
    "Faeroe Is.": "Faroe Islands",
    "Falkland Is.": "Falkland Islands",
    "Fr. Polynesia": "French Polynesia",
    "Fr. S. Antarctic Lands": "French Southern and Antarctic Lands",
    "Heard I. and McDonald Is.": "Heard Island and McDonald Islands",
    "Indian Ocean Ter.": "Australian Indian Ocean Territories",
    "Macedonia": "North Macedonia",
    "Marshall Is.": "Marshall Islands",
    "N. Cyprus": "Cyprus",
    "N. Mariana Is.": "Northern Mariana Islands",
    "Pitcairn Is.": "Pitcairn Islands",
    "S. Geo. and the Is.": "South Georgia and the South Sandwich Islands",
    "S. Sudan": "South Sudan",
    "Solomon Is.": "Solomon Islands",
    "Somaliland": "Somalia",
    "Spratly Is.": "Spratly Islands",
    "St-Barthélemy": "Saint Barthélemy",
    "St-Martin": "Saint Martin",
    "St. Kitts and Nevis": "Saint Kitts and Nevis",
    "St. Pierre and Miquelon": "Saint Pierre and Miquelon",
    "St. Vin. and Gren.": "Saint Vincent and the Grenadines",
    "Turks and Caicos Is.": "Turks and Caicos Islands",
    "U.S. Minor Outlying Is.": "United States Minor Outlying Islands",
    "U.S. Virgin Is.": "United States Virgin Islands",
    "United States of America": "United States",
    "W. Sahara": "Western Sahara",
    "Wallis and Futuna Is.": "Wallis and Futuna",
    "eSwatini": "Eswatini",
    "Cyprus U.N. Buffer Zone": "Cyprus",
    "USNB Guantanamo Bay": "Cuba",
    "Baikonur": "Kazakhstan",
    "Akrotiri": "Cyprus",
    "Dhekelia": "Cyprus",
    "Ashmore and Cartier Is.": "Ashmore and Cartier Islands",
}
# Areas Natural Earth gives no ISO code: the country whose GeoNames places lie there.
CODES_WITHOUT_ID = {
    "Kosovo": "XK", "Somaliland": "SO", "N. Cyprus": "CY", "Cyprus U.N. Buffer Zone": "CY",
    "Akrotiri": "CY", "Dhekelia": "CY", "Baikonur": "KZ", "USNB Guantanamo Bay": "CU",
    "Indian Ocean Ter.": "CX", "Siachen Glacier": "", "Coral Sea Is.": "", "Spratly Is.": "",
    "Clipperton I.": "", "Bajo Nuevo Bank": "", "Serranilla Bank": "", "Scarborough Reef": "",
}


def alpha2(numeric: str | None, name: str) -> str:
    if not numeric or numeric == "-99":
        return CODES_WITHOUT_ID.get(name, "")
    import pycountry

    found = pycountry.countries.get(numeric=numeric)
    if found is None:
        raise SystemExit(f"no ISO code for {name} ({numeric})")
    return str(found.alpha_2)


def _arcs(topo: dict) -> list[np.ndarray]:
    scale, translate = np.array(topo["transform"]["scale"]), np.array(topo["transform"]["translate"])
    return [np.cumsum(np.array(a, dtype=np.int64), axis=0) * scale + translate for a in topo["arcs"]]


def _ring(arcs: list[np.ndarray], refs: list[int]) -> np.ndarray:
    parts = []
    for k, a in enumerate(refs):
        arc = arcs[a] if a >= 0 else arcs[~a][::-1]
        parts.append(arc if k == 0 else arc[1:])
    return np.concatenate(parts)


def _polygons(arcs: list[np.ndarray], polygon_refs: list[list[int]]) -> list:
    """One topology polygon as valid shapely polygons, cut at the antimeridian."""
    import shapely

    rings = [_ring(arcs, refs) for refs in polygon_refs]
    rings = [r for r in rings if len(r) >= 4]  # quantisation collapses some islets and lakes
    if not rings or len(polygon_refs[0]) == 0 or len(_ring(arcs, polygon_refs[0])) < 4:
        return []
    crosses = any(np.any(np.abs(np.diff(r[:, 0])) > 180) for r in rings)
    if crosses:  # a ring that jumps from +180 to -180: draw it on 0..360, then cut it in two
        rings = [np.column_stack((np.where(r[:, 0] < 0, r[:, 0] + 360, r[:, 0]), r[:, 1])) for r in rings]
    polygon = shapely.make_valid(shapely.Polygon(rings[0], rings[1:]), method="structure", keep_collapsed=False)
    pieces = [polygon]
    if crosses:
        east = shapely.intersection(polygon, shapely.box(0, -90, 180, 90))
        west = shapely.affinity.translate(shapely.intersection(polygon, shapely.box(180, -90, 360, 90)), xoff=-360)
        pieces = [east, west]
    out = []
    for piece in pieces:
        out.extend(g for g in shapely.get_parts(piece) if g.geom_type == "Polygon" and not g.is_empty)
    return out


def build(source: Path) -> dict[str, np.ndarray]:
    import shapely.affinity  # noqa: F401  (loads the submodule _polygons uses)

    topo = json.loads(source.read_text(encoding="utf-8"))
    arcs = _arcs(topo)
    codes, names, points, ring_offsets, polygon_rings, country_polygons = [], [], [], [0], [0], [0]
    for geometry in topo["objects"]["countries"]["geometries"]:
        raw = geometry["properties"]["name"]
        codes.append(alpha2(geometry.get("id"), raw))
        names.append(NAMES.get(raw, raw))
        refs = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon_refs in refs:
            for polygon in _polygons(arcs, polygon_refs):
                for ring in (polygon.exterior, *polygon.interiors):
                    q = np.round(np.asarray(ring.coords) * MICRO).astype(np.int64)
                    points.append(np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)))
                    ring_offsets.append(ring_offsets[-1] + len(q))
                polygon_rings.append(len(ring_offsets) - 1)
        country_polygons.append(len(polygon_rings) - 1)
    return {
        "ring_deltas": np.concatenate(points).astype(np.int32),
        "ring_offsets": np.array(ring_offsets, dtype=np.int64),
        "polygon_rings": np.array(polygon_rings, dtype=np.int32),
        "country_polygons": np.array(country_polygons, dtype=np.int32),
        "codes": np.array(codes, dtype="U2"),
        "names": np.array(names),
        "source": np.array(SOURCE),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", type=Path, help="countries-10m.json from the world-atlas npm package")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    arrays = build(args.topojson)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    print(f"{args.out}: {len(arrays['codes'])} countries, {len(arrays['ring_deltas'])} points, "
          f"{args.out.stat().st_size} bytes")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
