"""``gallerfs places``: the countries, regions and cities of the library's geotagged files, with counts."""

from __future__ import annotations

import argparse
from typing import Any

from gallerfs.cli.context import Context, add_json_flag
from gallerfs.errors import GallerfsError

from gallerfs.places import ATTRIBUTION, UNKNOWN_CITY, UNKNOWN_REGION  # a module without imports

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "places", help="countries, regions and cities of geotagged files, with counts",
        description="List the places of the library's geotagged photos and videos: country, region "
        "(state, province) and city, each with its number of files, as by-place/ in the mount shows them. "
        "Places are computed offline by 'gallerfs index': the country by polygon, the city as the nearest "
        "larger populated place of that country.",
        epilog=ATTRIBUTION,
    )  # fmt: skip
    p.add_argument("--country", metavar="PLACE", help="only this country (English name, any case)")
    p.add_argument("--at", metavar="LAT,LON", help="name the place of one position instead (decimal degrees)")
    add_json_flag(p)
    p.set_defaults(func=run_places)


def _coordinates(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.replace(" ", "").split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise GallerfsError(f"--at takes LAT,LON in decimal degrees (e.g. 43.46,11.88), not {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise GallerfsError(f"--at {text}: latitude must be within ±90 and longitude within ±180")
    return lat, lon


def run_at(ctx: Context) -> int:
    from gallerfs.places.geocode import ReverseGeocoder

    lat, lon = _coordinates(ctx.args.at)
    place = ReverseGeocoder(ctx.settings.places_min_population).reverse_one(lat, lon)
    data: dict[str, Any] = {"latitude": lat, "longitude": lon, "country_code": None, "country": None,
                            "region": None, "city": None}  # fmt: skip
    if place is not None:
        data.update(country_code=place.country_code, country=place.country, region=place.region, city=place.city)
    ctx.emit(data, lambda d: place.label() if place is not None else "no place (at sea, far from any coast)")
    return 0


def run_places(ctx: Context) -> int:
    if ctx.args.at:
        return run_at(ctx)
    from gallerfs.db import places as places_db

    db = ctx.open_current_reader()
    rows = places_db.counts(db)
    if ctx.args.country:
        rows = [r for r in rows if r["country"].casefold() == ctx.args.country.casefold()]
        if not rows:
            raise GallerfsError(f"no geotagged file of the library is in {ctx.args.country!r} (see 'gallerfs places')")
    countries: dict[str, dict[str, Any]] = {}
    for r in rows:
        country = countries.setdefault(r["country"], {"name": r["country"], "files": 0, "regions": {}})
        region = country["regions"].setdefault(r["region"], {"name": r["region"], "files": 0, "cities": []})
        region["cities"].append({"name": r["city"], "files": r["files"]})
        region["files"] += r["files"]
        country["files"] += r["files"]
    data = {
        **places_db.summary(db),
        "countries": [{**c, "regions": list(c["regions"].values())} for c in countries.values()],
    }

    def text(d: dict[str, Any]) -> str:
        lines = []
        for c in d["countries"]:
            lines.append(f"{c['files']:>7}  {c['name']}")
            for r in c["regions"]:
                lines.append(f"{r['files']:>7}    {r['name'] or UNKNOWN_REGION}")
                lines.extend(f"{x['files']:>7}      {x['name'] or UNKNOWN_CITY}" for x in r["cities"])
        pending = d["with_gps"] - d["placed"] - d["no_place"]
        note = f"{d['placed']} of {d['with_gps']} files with a GPS position are placed"
        if d["no_place"]:
            note += f", {d['no_place']} {'has' if d['no_place'] == 1 else 'have'} no place (far at sea)"
        if pending > 0:
            note += f"; {pending} wait for 'gallerfs index'"
        lines.append(note)
        return "\n".join(lines)

    ctx.emit(data, text)
    return 0
