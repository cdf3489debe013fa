"""What each filtered view costs to compute once per library generation, shared by every request.

Scrolling a 100,000-photo grid asks for hundreds of pages; sorting the library for each of them
would cost ~40 ms a page at any offset (and ~250 ms with OFFSET near the end). The ids of a view (and
its years, for the scrubber) are kept instead, keyed by its filters and the library's generation
(which every write bumps, the indexer's included), so a page is a slice plus one lookup by id.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from array import array
from typing import Callable, Generic, TypeVar

from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.lru import LRU
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec

MAX_VIEWS = 16  # about 1.6 MB per 100,000-photo view (ids and sort keys)
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
        self._views: ViewCache[tuple[list[int], array]] = ViewCache(vq.ordered_view)
        self._years: ViewCache[list[tuple[int, int]]] = ViewCache(vq.years)
        self._cameras: ViewCache[list[str]] = ViewCache(lambda db, spec: vq.camera_names(db), max_views=1)
        self._groups: dict[str, ViewCache[list[tuple[str | None, int]]]] = {
            by: ViewCache(functools.partial(_groups_by, by)) for by in vq.GROUP_FORMATS
        }

    def ids(self, db: Database, spec: FilterSpec) -> list[int]:
        """The view's file ids in grid order."""
        return self._views.get(db, spec)[0]

    def neighbours(self, db: Database, spec: FilterSpec, file_id: int) -> tuple[int | None, int | None]:
        """(previous, next) around a file in the view's order, found by its sort key (a binary search),
        so also for a file the filters leave out; (None, None) for no such file."""
        key = vq.sort_key(db, file_id)
        if key is None:
            return None, None
        ids, keys = self._views.get(db, spec)
        # The grid runs by (key, id) descending: find where (key, file_id) is, or would be.
        pos = bisect.bisect_left(range(len(ids)), (-key, -file_id), key=lambda i: (-keys[i], -ids[i]))
        after = pos + 1 if pos < len(ids) and ids[pos] == file_id else pos
        return (ids[pos - 1] if pos else None), (ids[after] if after < len(ids) else None)

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


def _groups_by(by: str, db: Database, spec: FilterSpec) -> list[tuple[str | None, int]]:
    return vq.groups(db, spec, by)


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
