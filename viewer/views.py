"""What each filtered view costs to compute once per library generation, shared by every request.

Scrolling a 100,000-photo grid asks for hundreds of pages; sorting the library for each of them
would cost ~40 ms a page at any offset (and ~250 ms with OFFSET near the end). The ids of a view (and
its years, for the scrubber) are kept instead, keyed by its filters and the library's generation
(which every write bumps, the indexer's included), so a page is a slice plus one lookup by id.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Generic, TypeVar

from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.lru import LRU
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec

MAX_VIEWS = 16  # about 0.8 MB per 100,000-photo view
T = TypeVar("T")


class ViewCache(Generic[T]):
    def __init__(self, compute: Callable[[Database, FilterSpec], T], max_views: int = MAX_VIEWS) -> None:
        self.compute = compute
        self._views: LRU[tuple[FilterSpec, int], T] = LRU(max_views)

    def get(self, db: Database, spec: FilterSpec) -> T:
        """The value for this view as of the library's current generation."""
        key = (spec, tree_db.generation(db))
        return self._views.get_or_compute(key, lambda: self.compute(db, spec))


class Views:
    """The grid's order and the years in it, per filtered view."""

    def __init__(self) -> None:
        self._ids: ViewCache[list[int]] = ViewCache(vq.ordered_ids)
        self._years: ViewCache[list[tuple[int, int]]] = ViewCache(vq.years)
        self._cameras: ViewCache[list[str]] = ViewCache(lambda db, spec: vq.camera_names(db), max_views=1)
        self._groups: dict[str, ViewCache[list[tuple[str | None, int]]]] = {
            by: ViewCache(lambda db, spec, by=by: vq.groups(db, spec, by)) for by in vq.GROUP_FORMATS
        }

    def ids(self, db: Database, spec: FilterSpec) -> list[int]:
        """The view's file ids in grid order."""
        return self._ids.get(db, spec)

    def years(self, db: Database, spec: FilterSpec) -> list[dict[str, int]]:
        """Each year of the view, newest first, with where it starts in the grid and how many files it has."""
        out, offset = [], 0
        for year, count in self._years.get(db, spec):
            out.append({"year": year, "offset": offset, "count": count})
            offset += count
        return out

    def cameras(self, db: Database) -> list[str]:
        """The camera filter's choices (a scan of every photo's metadata: ~20 ms at 100,000), per generation."""
        return self._cameras.get(db, FilterSpec())

    def groups(self, db: Database, spec: FilterSpec, by: str) -> list[dict[str, object]]:
        """The timeline's sections (``by`` month or day), newest first: each with its period, a label
        to show, where it starts in the grid and how many files it has."""
        out: list[dict[str, object]] = []
        offset = 0
        for period, count in self._groups[by].get(db, spec):
            out.append({"period": period or "", "label": period_label(period), "offset": offset, "count": count})
            offset += count
        return out


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def period_label(period: str | None) -> str:
    """'July 2024' for '2024-07', 'Sunday 14 July 2024' for '2024-07-14' (English, as the rest of the pages)."""
    if not period:
        return "No date"
    parts = [int(p) for p in period.split("-")]
    if len(parts) == 2:
        return f"{MONTHS[parts[1] - 1]} {parts[0]}"
    try:
        weekday = WEEKDAYS[dt.date(*parts).weekday()]
    except ValueError:
        return period
    return f"{weekday} {parts[2]} {MONTHS[parts[1] - 1]} {parts[0]}"
