"""The search filters (``gallerfs.search.Filters``, the model behind ``gallerfs search``'s options)
read from and written to a URL query string, so every view, reload and bookmark shows the same
selection. Parameter names are the CLI's option names: ``since``, ``until``, ``camera``,
``source``, ``album``, ``favourites``, ``kind``, ``has_gps``, ``journaled``, ``online``
(1: only files whose source is online, 0: only offline ones — ``--online`` / ``--offline``), ``area`` (a map
area, ``lat_lon_lat_lon_...``: see ``gallerfs.area``); and ``cluster``, a selection drawn on the clusters page
(``gallerfs.search.region``); ``tag``, a tag photos carry (``gallerfs.db.tags``); ``person``, a person's
name, ``person N`` or id (``gallerfs people``); ``place``, a country, region or city (``gallerfs places``;
several separated by ``;``).
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlencode

from gallerfs import area as area_mod
from gallerfs.db.connection import Database
from gallerfs.search import Filters
from gallerfs.search.filters import check_names
from gallerfs.search.region import MAX_TEXT as MAX_REGION_TEXT
from gallerfs.viewer.errors import bad_request

TEXT_KEYS = ("since", "until", "camera", "source", "album", "kind", "area", "cluster", "tag", "person")
FLAG_KEYS = ("favourites", "journaled")
TRI_KEYS = ("has_gps", "online")  # 1: only with, 0: only without, absent or empty: either
PLACE_KEY = "place"  # Filters.places: a country, region or city name, several separated by ';'
FILTER_KEYS = (*TEXT_KEYS, *FLAG_KEYS, *TRI_KEYS, PLACE_KEY)
MAX_VALUE_CHARS = 256
MAX_CHARS = {"area": area_mod.MAX_CHARS, "cluster": MAX_REGION_TEXT}  # polygons: longer than most values
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE or v == "":
        return False
    raise bad_request(f"filter {name} takes 1 or 0, not {value[:40]!r}")


def parse(args: Mapping[str, str], db: Database | None = None) -> Filters:
    """Filters from query-string arguments (other arguments are left to the route).

    Raises a 400 ``ViewerError`` for oversized or malformed values, and, when ``db`` is given, for
    source or album names the library does not have."""
    values: dict[str, Any] = {}  # each value parsed for its field: text, flag or None
    getlist = getattr(args, "getlist", None)
    for key in FILTER_KEYS:
        if key not in args:
            continue
        if getlist is not None and len(getlist(key)) > 1:
            raise bad_request(f"filter {key} is given more than once")
        value = args[key]
        limit = MAX_CHARS.get(key, MAX_VALUE_CHARS)
        if len(value) > limit:
            raise bad_request(f"filter {key} is longer than {limit} characters")
        if "\x00" in value:
            raise bad_request(f"filter {key} contains a NUL character")
        if key in TEXT_KEYS:
            values[key] = value.strip() or None
        elif key in FLAG_KEYS:
            values[key] = parse_flag(key, value)
        elif key == PLACE_KEY:
            values["places"] = tuple(p.strip() for p in value.split(";") if p.strip())
        else:  # TRI_KEYS
            values[key] = None if value.strip() == "" else parse_flag(key, value)
    filters = Filters(**values)
    filters.to_spec()  # dates and kind are checked here, by the model itself (GallerfsError -> 400)
    if db is not None:
        check_names(db, filters)
    return filters


def to_args(filters: Filters) -> dict[str, str]:
    """The query-string arguments that ``parse`` reads back as the same filters."""
    out: dict[str, str] = {}
    for key in TEXT_KEYS:
        value = getattr(filters, key)
        if value:
            out[key] = value
    for key in FLAG_KEYS:
        if getattr(filters, key):
            out[key] = "1"
    for key in TRI_KEYS:
        value = getattr(filters, key)
        if value is not None:
            out[key] = "1" if value else "0"
    if filters.places:
        out[PLACE_KEY] = ";".join(filters.places)
    return out


def query_string(filters: Filters, **extra: object) -> str:
    """'?since=2023&...' (with extra arguments), or '' when there is nothing to say."""
    args = to_args(filters)
    args.update({k: str(v) for k, v in extra.items() if v not in (None, "")})
    return ("?" + urlencode(args)) if args else ""
