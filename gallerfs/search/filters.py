"""The one place where search filters are parsed and applied.

``Filters`` holds what a user asked for (dates as they typed them). ``scope``
turns it into a ``Scope``: when the filters are selective (few matching files)
the scope is the explicit list of candidate ids, found through indexes, and
signals score only those; otherwise signals search everything and the scope
checks their candidates. A process keeps the scopes of its last few filters
until the library changes (``search_db.filter_version``), so a mount or viewer
pays for a filter's candidates once, not on every query.

Dates are read the way ``by-date/`` files them: a photo's wall-clock time
(see ``indexer/metadata/dates.py``), so ``--since 2023-07 --until 2023-07``
is exactly what ``by-date/2023/07/`` shows. ``--until`` includes the whole
period it names.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from gallerfs import area as area_mod
from gallerfs.db import search as search_db
from gallerfs.search import region
from gallerfs.lru import LRU
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec
from gallerfs.errors import GallerfsError

KINDS = ("image", "video", "raw")
SELECTIVE_MAX = 200_000  # filters matching up to this many files search among them alone
CACHED_SCOPES = 8  # filters whose candidates a process keeps (a long-lived mount or viewer)
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


@dataclass(frozen=True)
class Filters:
    since: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD
    until: str | None = None  # same; inclusive
    camera: str | None = None
    source: str | None = None
    album: str | None = None
    favourites: bool = False
    kind: str | None = None  # image, video or raw
    has_gps: bool | None = None
    journaled: bool = False  # only photos a journal entry links to
    area: str | None = None  # a map area (gallerfs.area: lat_lon_lat_lon_...)
    cluster: str | None = None  # a selection on the clusters map, 'FIT:x,y;x,y;...' (see search.region)
    online: bool | None = None  # True: only files whose source is online, False: only offline ones
    places: tuple[str, ...] = ()  # country, region or city names (any of them), as 'gallerfs places' lists them
    months: tuple[int, ...] = ()  # months of the year (1-12), any year: "summer", "July"
    tag: str | None = None  # only photos with this tag ('cat', 'lighthouse'; see gallerfs.db.tags)
    person: str | None = None  # a person's name, 'person N' or id (gallerfs people): the photos they are in

    def to_spec(self) -> FilterSpec:
        since = _bound(self.since, "--since", end=False) if self.since else None
        until = _bound(self.until, "--until", end=True) if self.until else None
        if since is not None and until is not None and since >= until:
            raise GallerfsError(f"--since {self.since} is after --until {self.until}")
        if self.kind is not None and self.kind not in KINDS:
            raise GallerfsError(f"--kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if any(not 1 <= m <= 12 for m in self.months):
            raise GallerfsError(f"months are 1 to 12, not {self.months}")
        return FilterSpec(
            since=since,
            until=until,
            camera=self.camera or None,
            source=self.source or None,
            album=self.album or None,
            favourites=self.favourites,
            kinds=(self.kind,) if self.kind else (),
            has_gps=self.has_gps,
            journaled=self.journaled,
            area=area_mod.parse(self.area) if self.area else None,
            cluster=region.parse(self.cluster) if self.cluster else None,
            online=self.online,
            places=tuple(sorted({p.strip() for p in self.places if p.strip()})),
            months=tuple(sorted(set(self.months))),
            tag=" ".join(self.tag.lower().split()) or None if self.tag else None,
            person=self.person.strip() or None if self.person else None,
        )


def _bound(text: str, option: str, *, end: bool) -> float:
    """Unix time of the start of the period (or of the next period when ``end``)."""
    m = _DATE.match(text.strip())
    if not m:
        raise GallerfsError(f"{option} takes YYYY, YYYY-MM or YYYY-MM-DD, not {text!r}")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        start = dt.datetime(year, month, day, tzinfo=dt.timezone.utc)
    except ValueError:
        raise GallerfsError(f"{option}: {text!r} is not a date") from None
    if end:
        if m[3]:
            start += dt.timedelta(days=1)
        elif m[2]:
            start = start.replace(year=year + month // 12, month=month % 12 + 1)
        else:
            start = start.replace(year=year + 1)
    return start.timestamp()


@dataclass(frozen=True)
class Scope:
    spec: FilterSpec
    ids: np.ndarray | None  # the candidates, when the filters are selective; None: the whole library

    @property
    def filtered(self) -> bool:
        return not self.spec.is_empty()

    def keep(self, db: Database, ids: list[int]) -> set[int]:
        """The ids that pass the filters."""
        if not self.filtered:
            return set(ids)
        if self.ids is not None:
            allowed = self._allowed()
            return {i for i in ids if i in allowed}
        return search_db.filter_ids(db, self.spec, ids)

    def _allowed(self) -> set[int]:
        cached = self.__dict__.get("_allowed_set")
        if cached is None:
            cached = set(self.ids.tolist()) if self.ids is not None else set()
            object.__setattr__(self, "_allowed_set", cached)
        return cached

    def all_matching(self, db: Database) -> np.ndarray:
        """Every matching id (used when KNN plus filtering cannot find enough results)."""
        if self.ids is not None:
            return self.ids
        return np.array(search_db.matching_ids(db, self.spec, 1 << 62), dtype=np.int64)

    def mask(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (an in-memory index's ids) are candidates; kept for the last array asked about."""
        cached = self.__dict__.get("_mask")
        if cached is None or cached[0] is not ids:
            cached = (ids, np.isin(ids, self.ids) if self.ids is not None else np.ones(len(ids), dtype=bool))
            object.__setattr__(self, "_mask", cached)
        return cached[1]

    def ids_json(self, chunk: int) -> list[str]:
        """The candidates as ``search_db.ids_json`` texts of ``chunk`` ids each, encoded once per scope."""
        key = f"_ids_json_{chunk}"
        cached = self.__dict__.get(key)
        if cached is None:
            ids = self.ids if self.ids is not None else np.zeros(0, dtype=np.int64)
            cached = search_db.ids_json_chunks(ids, chunk)
            object.__setattr__(self, key, cached)
        return cached


# The scopes of the last few filters, valid while ``search_db.filter_version`` stays the same (part of
# the key): a mount or viewer asks the same filter again and again with new queries; its candidate
# list is the costly part of a filtered search, and it only changes when the library does.
_scopes: LRU[tuple[Any, ...], Scope] = LRU(CACHED_SCOPES)


def _cache_key(db: Database, spec: FilterSpec, selective_max: int) -> tuple[Any, ...] | None:
    if spec.journaled:  # journal links change without a generation bump: always asked afresh
        return None
    return (str(db.path), spec, selective_max, search_db.filter_version(db))


def scope(db: Database, filters: Filters | None, selective_max: int = SELECTIVE_MAX) -> Scope:
    """Filters matching up to ``selective_max`` files become an explicit candidate list, searched
    inside the vec0 scan itself; broader ones are checked on KNN results.

    Measured at 100k vectors (sqlite-vec 0.1.9): KNN among a listed 1-30% of the vectors costs
    70-150 ms, about one plain k=50 KNN, while a KNN for k=750 (what 'ask more, then filter' needs
    for a 10% filter) costs 460 ms. At 1M vectors on two cores, a 10% filter answered by widening
    KNN (k=200, then 800) took 3.8 s against 1.1 s for a plain KNN.
    """
    spec = (filters or Filters()).to_spec()
    if spec.is_empty():
        return Scope(spec, None)
    key = _cache_key(db, spec, selective_max)
    found = _scopes.get(key) if key is not None else None
    if found is not None:
        return found
    ids = search_db.matching_ids(db, spec, selective_max + 1)
    found = Scope(spec, np.array(ids, dtype=np.int64) if len(ids) <= selective_max else None)
    if key is not None:
        _scopes.put(key, found)
    return found


def check_names(db: Database, filters: Filters) -> None:
    """Unknown source or album names are a mistake worth one line, not an empty result."""
    from gallerfs.db import sources as sources_db

    if filters.source:
        sources_db.find_source(db, filters.source)
    if filters.album and not search_db.album_exists(db, filters.album):
        raise GallerfsError(f"no album named {filters.album!r}")
    if filters.tag:
        from gallerfs.db import tags as tags_db

        if not tags_db.files_with_tag(db, " ".join(filters.tag.lower().split()))[:1]:
            raise GallerfsError(f"no photo has the tag {filters.tag!r}")
    if filters.person:
        from gallerfs.db import faces as faces_db

        faces_db.find_person(db, filters.person)
    if filters.cluster:
        from gallerfs.db import projection as projection_db

        if region.parse(filters.cluster).fit != projection_db.current_fit_number(db):
            raise GallerfsError("the clusters map was recomputed since this selection was drawn: select again")
