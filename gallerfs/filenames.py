"""Names of library files shown together in one folder: deterministic ``IMG_0001 (2).jpg`` suffixes.

Used by the mount's folders (``gallerfs.fs.nodes``) and by the journal's photo
links (``gallerfs.journal.photos``), which must name a day's photos exactly as
``by-date/`` does. Pure functions over anything with a ``name`` and an ``id``.
"""

from __future__ import annotations

import os
import re
from operator import attrgetter
from typing import Iterable, Protocol, TypeVar

_SUFFIXED = re.compile(rb"^(.*) \((\d+)\)$")


class NamedFile(Protocol):
    """A library file as far as naming goes (``gallerfs.db.tree.FileRow`` is one)."""

    @property
    def name(self) -> bytes: ...

    @property
    def id(self) -> int: ...


F = TypeVar("F", bound=NamedFile)


def with_suffix(name: bytes, n: int) -> bytes:
    """``IMG_0001.jpg`` -> ``IMG_0001 (2).jpg`` (hidden files and no extension handled)."""
    stem, ext = os.path.splitext(name)
    if not stem:  # '.hidden'
        stem, ext = name, b""
    return stem + b" (%d)" % n + ext


def strip_suffix(name: bytes) -> bytes:
    """The name a de-duplicated ``IMG_0001 (2).jpg`` was made from."""
    stem, ext = os.path.splitext(name)
    m = _SUFFIXED.match(stem)
    return m.group(1) + ext if m else name


def unique_names(files: Iterable[F], taken: Iterable[bytes] = ()) -> list[tuple[bytes, F]]:
    """Deterministic names for files shown together in one folder.

    Files are ordered by (name, id); the lowest id keeps its name, the next ones
    get `` (2)``, `` (3)``… skipping names already used. Names in *taken* (e.g.
    subfolders) are never reused.
    """
    ordered = sorted(files, key=attrgetter("name", "id"))
    used = set(taken)
    first: list[F] = []
    later: list[F] = []
    for row in ordered:
        if row.name in used:
            later.append(row)
        else:
            used.add(row.name)
            first.append(row)
    out = [(r.name, r) for r in first]
    for row in later:
        n = 2
        while with_suffix(row.name, n) in used:
            n += 1
        name = with_suffix(row.name, n)
        used.add(name)
        out.append((name, row))
    out.sort(key=lambda e: e[0])
    return out
