"""people/<name>/: one folder per person the faces job found, listing every photo they are in.

Named persons appear under their name, the others as ``person N`` (N is the id ``gallerfs people``
shows, stable until the user merges that person away). A name that would clash with another person's
folder gets the usual `` (2)`` suffix from the listing. Read-only: naming, merging and splitting are
done with ``gallerfs people`` or the viewer's People page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from gallerfs.db import faces as faces_db
from gallerfs.fs.nodes import DirNode, Entry, TreeContext, file_entries, fs_name


class PeopleRoot(DirNode):
    key = ("top", b"people")

    def list(self, ctx: TreeContext) -> list[Entry]:
        persons = ctx.memo.get("people", lambda: faces_db.list_persons(ctx.db))
        out: list[Entry] = []
        seen: set[bytes] = set()
        for p in sorted(persons, key=lambda p: (p.name is None, (p.name or "").casefold(), p.id)):
            name = fs_name(p.label)
            if name in seen:
                name = fs_name(f"{p.label} ({p.id})")
            seen.add(name)
            out.append(Entry(name, PersonDir(p.id)))
        return out


@dataclass(frozen=True)
class PersonDir(DirNode):
    person_id: int

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("person", self.person_id)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(faces_db.person_files(ctx.db, self.person_id))
