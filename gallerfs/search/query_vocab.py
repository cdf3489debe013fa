"""What the query parser recognises besides dates, read from the library: its places and cameras,
every country, and (loaded only when a query needs it) GeoNames' large cities and its regions.

``vocabulary(db)`` is cached per library version (``search_db.filter_version``), so a mount or
viewer builds it once until the library changes.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any, Callable

from gallerfs.db import places as places_db
from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.lru import LRU
from gallerfs.search.query_parse import BIG_PLACE, COUNTRY_ALIASES, GENERIC_MAKE_WORDS, PlaceName, Vocabulary, fold

log = logging.getLogger(__name__)

_cache: LRU[tuple[Any, ...], Vocabulary] = LRU(4)
_gazetteer_lock = threading.Lock()
_gazetteer_names: dict[str, PlaceName] | None = None


def _countries() -> dict[str, PlaceName]:
    from gallerfs.places.countries import country_names

    out: dict[str, PlaceName] = {}
    for _code, name in country_names():
        out.setdefault(fold(name), PlaceName(name, "country"))
    for alias, name in COUNTRY_ALIASES.items():
        out.setdefault(fold(alias), PlaceName(name, "country"))
    return out


def _gazetteer_lookup(key: str) -> PlaceName | None:
    """A large GeoNames city or any region by its folded name (the most populous of that name)."""
    global _gazetteer_names
    with _gazetteer_lock:
        if _gazetteer_names is None:
            _gazetteer_names = _build_gazetteer_names()
    return _gazetteer_names.get(key)


def _build_gazetteer_names() -> dict[str, PlaceName]:
    """Cities of at least BIG_PLACE people and every region, by folded name: small enough (a few
    thousand names) to keep in a mount or viewer, read without building the geocoder's trees."""
    from gallerfs.places.countries import country_names
    from gallerfs.places.gazetteer import iter_names

    names_of: dict[str, str] = {}
    for code, name in country_names():
        names_of.setdefault(code, name)
    out: dict[str, PlaceName] = {}
    region_population: dict[tuple[str, str], int] = {}
    for city, code, population, region in iter_names():
        country = names_of.get(code, code)
        if region:
            region_population[(region, country)] = region_population.get((region, country), 0) + population
        if population >= BIG_PLACE:
            key = fold(city)
            best = out.get(key)
            if best is None or population > best.population:
                out[key] = PlaceName(city, "city", country, population=population)
    for (region, country), population in region_population.items():
        key = fold(region)
        best = out.get(key)
        if best is None or population > best.population:
            out[key] = PlaceName(region, "region", country, population=population)
    return out


def _library_places(db: Database) -> dict[str, PlaceName]:
    out: dict[str, PlaceName] = {}
    for level, name, country, _region in places_db.names(db):
        key = fold(name)
        if level == "country" or key not in out:
            out[key] = PlaceName(name, level, country, in_library=True)
    return out


_WORD = re.compile(r"[^\W_][\w-]*")


def _cameras(db: Database) -> dict[str, str]:
    """Folded phrase -> camera filter text, for the makes and models in the library."""
    out: dict[str, str] = {}
    pairs = search_db.camera_pairs(db) or []
    for make, model in pairs:
        for word in _WORD.findall(make or ""):
            folded = fold(word)
            if len(folded) >= 2 and folded not in GENERIC_MAKE_WORDS and not folded.isdigit():
                out.setdefault(folded, word.lower())
        if model:
            out.setdefault(fold(" ".join(model.split())), model)
            words = model.split()
            if make and words and fold(words[0]) in {fold(w) for w in _WORD.findall(make)} and len(words) > 1:
                out.setdefault(fold(" ".join(words[1:])), " ".join(words[1:]))  # 'NIKON D5000' -> 'D5000'
            family = fold(words[0]) if words else ""
            if family.isalpha() and len(family) >= 4 and family not in GENERIC_MAKE_WORDS:
                out.setdefault(family, words[0])  # 'iPhone 6' -> 'iphone'
    return out


def vocabulary(db: Database, *, gazetteer: bool = True) -> Vocabulary:
    """The parser's vocabulary for this library (cached until the library changes)."""
    key = (str(db.path), gazetteer, search_db.filter_version(db))
    found = _cache.get(key)
    if found is None:
        places = _countries()
        try:
            places.update(_library_places(db))
        except Exception as exc:  # a library not upgraded yet (read-only, before the migration)
            log.debug("no library places: %s", exc)
        cameras = _cameras(db)
        lookup: Callable[[str], PlaceName | None] | None = _gazetteer_lookup if gazetteer else None
        found = Vocabulary(places=places, cameras=cameras, gazetteer=lookup,
                           max_camera_words=max((len(k.split()) for k in cameras), default=1))  # fmt: skip
        _cache.put(key, found)
    return found
