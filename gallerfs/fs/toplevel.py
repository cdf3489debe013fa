"""The registry of top-level directories: the one place a new directory kind is added.

Each entry is ``(name, factory)``; the factory gets the journal path (only
``journal/`` uses it) and returns the directory's node. ``search/`` and
``duplicates/`` are added here by their own modules (see ``gallerfs.fs``).
"""

from __future__ import annotations

from typing import Callable

from gallerfs.fs.duplicates_dir import DuplicatesRoot
from gallerfs.fs.journal import JournalRoot
from gallerfs.fs.library_dirs import ByAlbumRoot, ByDateRoot, FavouritesDir, SourcesRoot
from gallerfs.fs.nodes import DirNode, Entry, Node, TreeContext
from gallerfs.fs.place_dirs import ByPlaceRoot
from gallerfs.fs.people_dirs import PeopleRoot
from gallerfs.fs.search_dir import SearchRoot
from gallerfs.fs.similar_dir import SimilarRoot
from gallerfs.fs.status import StatusDir
from gallerfs.fs.tag_dirs import ByTagRoot

TOP_LEVEL: list[tuple[bytes, Callable[[bytes], DirNode]]] = [
    (b"sources", lambda journal: SourcesRoot()),
    (b"by-date", lambda journal: ByDateRoot()),
    (b"by-album", lambda journal: ByAlbumRoot()),
    (b"favourites", lambda journal: FavouritesDir()),
    (b"search", lambda journal: SearchRoot()),
    (b"similar", lambda journal: SimilarRoot()),
    (b"by-place", lambda journal: ByPlaceRoot()),
    (b"by-tag", lambda journal: ByTagRoot()),
    (b"duplicates", lambda journal: DuplicatesRoot()),
    (b"people", lambda journal: PeopleRoot()),
    (b"journal", JournalRoot),
    (b".gallerfs", lambda journal: StatusDir()),
]


class RootDir(DirNode):
    key = ("root",)

    def __init__(self, journal_path: bytes) -> None:
        self.entries = [Entry(name, factory(journal_path)) for name, factory in TOP_LEVEL]

    def list(self, ctx: TreeContext) -> list[Entry]:
        return list(self.entries)

    def close(self) -> None:
        """At unmount: top-level folders that keep something pending finish it."""
        for entry in self.entries:
            close = getattr(entry.node, "close", None)
            if close is not None:
                close()

    def replace(self, name: bytes, node: DirNode) -> Node:
        """Put *node* in place of the top-level folder *name* (a new journal folder); the old node."""
        for i, entry in enumerate(self.entries):
            if entry.name == name:
                self.entries[i] = Entry(name, node)
                return entry.node
        raise KeyError(name)
