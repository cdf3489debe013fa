"""The mount's ``similar/``: ``similar/<photo>/`` lists the photos nearest to one photo, best first.

``<photo>`` is a library file id (``gallerfs search --json`` shows it, so do
``.gallerfs/inodes/<inode>.json`` and, with ``--xattrs``, ``user.gallerfs.id``)
or a file name that only one library file has (``similar/IMG_0042.jpg/``; a
ranked name from ``search/`` such as ``03 IMG_0042.jpg`` works too). Entries
are named like ``search/``'s: ``01 IMG_0107.jpg``… up to
``settings.search_limit``, the photo itself left out. Nothing is remembered:
``similar/`` lists only ``README.txt``. A name that is no photo, an ambiguous
name, or a library with nothing embedded yet gives ENOENT (the reason is logged).
Needs the library's embeddings, not the model files.

As in ``search/``, a lookup only resolves the name to a photo (one indexed
query); the nearest photos are found when the folder is listed. Probe names
(``desktop.ini``, ``.hidden``…) are ENOENT without touching the library.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Hashable

from gallerfs.db import tree as q
from gallerfs.fs.nodes import DirNode, Entry, TreeContext
from gallerfs.fs.search_dir import RANKED_NAME, README, is_probe, rank_entries, ranked_ids, readme_node

log = logging.getLogger(__name__)

_RANKED = re.compile(rb"^\d{2,4} (.+)$")

README_TEXT = (
    b"similar/<photo>/ lists the photos that look most like one photo, best first.\n\n"
    b"<photo> is a library file id (shown by 'gallerfs search --json', by\n"
    b".gallerfs/inodes/<inode>.json, and with --xattrs by user.gallerfs.id) or a file\n"
    b"name that only one file in the library has, for example similar/IMG_0042.jpg/.\n"
    b"Photos are compared by their CLIP embeddings: install a model and run\n"
    b"'gallerfs index' first.\n"
)


def file_id_for(ctx: TreeContext, name: bytes) -> int | None:
    """The library file a ``similar/`` name stands for, or None."""
    if name.isdigit() and len(name) < 19:
        return int(name) if q.file_row(ctx.db, int(name)) is not None else None
    for candidate in (name, *(m.group(1) for m in [_RANKED.match(name)] if m)):
        found = q.files_named(ctx.db, candidate, limit=2)
        if len(found) == 1:
            return found[0].id
        if len(found) > 1:
            log.warning("similar/%s: more than one library file has this name; use its id", os.fsdecode(name))
            return None
    return None


def nearest(ctx: TreeContext, file_id: int) -> list[int]:
    """The ranked ids nearest to *file_id*, once per library generation. ENOENT when none can be had."""
    from gallerfs.search import similar_files

    limit = max(1, ctx.settings.search_limit)
    return ranked_ids(ctx, ("similar", file_id, limit),
                      lambda: [h.file_id for h in similar_files(ctx.db, ctx.paths, ctx.settings, file_id, limit)])


class SimilarRoot(DirNode):
    key: tuple[Hashable, ...] = ("top", b"similar")
    dynamic_lookup = True

    def __init__(self) -> None:
        self.readme = readme_node(("similar-readme",), lambda: README_TEXT)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [Entry(README, self.readme)]

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        if name == README:
            return Entry(README, self.readme)
        if is_probe(name):
            return None
        file_id = file_id_for(ctx, name)
        if file_id is None:
            return None
        return Entry(name, SimilarDir(name, file_id))


@dataclass(frozen=True)
class SimilarDir(DirNode):
    """``similar/<photo>/``: the nearest photos."""

    name: bytes  # part of the key: one folder per name (the kernel allows a folder only one name)
    file_id: int
    dynamic_lookup = True  # only ranked names can be inside: anything else is ENOENT without a query

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("similar", self.name)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return rank_entries(ctx, nearest(ctx, self.file_id))

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        if not RANKED_NAME.match(name):
            return None
        return next((e for e in self.list(ctx) if e.name == name), None)
