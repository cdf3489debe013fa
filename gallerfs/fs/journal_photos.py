"""``journal/_photos/YYYY-MM-DD/<name>``: each day's photos, inside the journal folder view.

Journal entries link photos as ``_photos/YYYY-MM-DD/<name>`` (see
``gallerfs.journal.links``) so that the links resolve in Obsidian with the
vault opened at ``MOUNT/journal/``, where ``../by-date/`` is out of reach. This
read-only virtual folder shows exactly the files and names of
``by-date/YYYY/MM/DD/`` (the same index, the same ``unique_names``), one
folder per day, under the journal's read-write passthrough.

For the Operations class (the journal passthrough):

* ``virtual_child(name)`` — in the journal root only: the node to show for
  ``name`` (``b"_photos"``) instead of a real file, or None. A real file or
  folder of that name in the journal folder hides nothing: the virtual one wins
  in the mount (the real one stays reachable outside it).
* ``VIRTUAL_NAMES`` — names to add to the journal root's listing.
* Everything below is an ordinary read-only ``DirNode`` tree of ``LibraryFile``
  entries (writes raise EROFS by the ``DirNode`` defaults).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Hashable

from gallerfs.fs.library_dirs import _by_date
from gallerfs.fs.nodes import DirNode, Entry, TreeContext, file_entries

log = logging.getLogger(__name__)

PHOTOS_NAME = b"_photos"
VIRTUAL_NAMES = (PHOTOS_NAME,)
_DAY_NAME = re.compile(rb"^(\d{4})-(\d{2})-(\d{2})$")


class JournalPhotosDir(DirNode):
    """``journal/_photos/``: one folder per day that has photos, named ``YYYY-MM-DD``."""

    key: tuple[Hashable, ...] = ("journal-photos",)

    def list(self, ctx: TreeContext) -> list[Entry]:
        out = []
        for year, months in sorted(_by_date(ctx).items()):
            for month, days in sorted(months.items()):
                for day in sorted(days):
                    out.append(Entry(f"{year}-{month}-{day}".encode(), JournalPhotosDay(year, month, day)))
        return out


@dataclass(frozen=True)
class JournalPhotosDay(DirNode):
    """``journal/_photos/YYYY-MM-DD/``: the same files and names as ``by-date/YYYY/MM/DD/``."""

    year: str
    month: str
    day: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("journal-photos", self.year, self.month, self.day)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(_by_date(ctx).get(self.year, {}).get(self.month, {}).get(self.day, []))


def virtual_child(name: bytes) -> DirNode | None:
    """The virtual node the journal root shows under ``name``, or None for the passthrough."""
    if name == PHOTOS_NAME:
        return JournalPhotosDir()
    return None
