"""The mount's cache of directory listings, bounded by the number of entries it holds.

A listing is kept until the library changes, until its directory is written
to, until the kernel forgets the directory, or until newer listings push it
out (least recently used first) once ``max_entries`` entries are cached.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from gallerfs.fs.fuseutil import Listing

MAX_CACHED_ENTRIES = 100_000  # ~40 MB of names, attributes and nodes


class ListingCache:
    """Used from the trio thread only."""

    def __init__(self, max_entries: int = MAX_CACHED_ENTRIES) -> None:
        self._listings: OrderedDict[int, Listing] = OrderedDict()
        self._entries = 0
        self.max_entries = max_entries

    def get(self, ino: int) -> Listing | None:
        listing = self._listings.get(ino)
        if listing is not None:
            self._listings.move_to_end(ino)
        return listing

    def put(self, ino: int, listing: Listing) -> None:
        self.pop(ino)
        self._listings[ino] = listing
        self._entries += len(listing.names)
        while self._entries > self.max_entries and len(self._listings) > 1:
            _, old = self._listings.popitem(last=False)
            self._entries -= len(old.names)

    def setdefault(self, ino: int, listing: Listing) -> Listing:
        found = self._listings.get(ino)
        if found is None:
            self.put(ino, listing)
            return listing
        return found

    def pop(self, ino: int, default: Listing | None = None) -> Listing | None:
        listing = self._listings.pop(ino, None)
        if listing is None:
            return default
        self._entries -= len(listing.names)
        return listing

    def items(self) -> list[tuple[int, Listing]]:
        return list(self._listings.items())

    def entries(self) -> int:
        return self._entries

    def __contains__(self, ino: object) -> bool:
        return ino in self._listings

    def __iter__(self) -> Iterator[int]:
        return iter(list(self._listings))

    def __len__(self) -> int:
        return len(self._listings)

    def __bool__(self) -> bool:
        return bool(self._listings)
