"""The order of each filtered view, computed once per library generation and shared by every request.

Scrolling a 100,000-photo grid asks for hundreds of pages; sorting the library for each of them
would cost ~40 ms a page at any offset (and ~250 ms with OFFSET near the end). The ids of a view are
kept instead, keyed by its filters and the library's generation (which every write bumps, the
indexer's included), so a page is a slice plus one lookup by id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec

MAX_VIEWS = 16  # about 0.8 MB per 100,000-photo view


class ViewCache:
    def __init__(self, max_views: int = MAX_VIEWS) -> None:
        self.max_views = max_views
        self._views: OrderedDict[tuple[FilterSpec, int], list[int]] = OrderedDict()
        self._lock = threading.Lock()

    def ids(self, db: Database, spec: FilterSpec) -> list[int]:
        """The view's file ids in grid order, as of the library's current generation."""
        key = (spec, tree_db.generation(db))
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        ids = vq.ordered_ids(db, spec)
        with self._lock:
            self._views[key] = ids
            while len(self._views) > self.max_views:
                self._views.popitem(last=False)
        return ids
