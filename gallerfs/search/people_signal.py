"""The people signal: a query that names people ("grandma at the beach") scores the photos they are in.

A person's name counts when it appears in the query as whole words, in any case ("Uncle Bob" in
"uncle bob's birthday"). A photo scores the share of the named persons it shows (1.0 when it shows all
of them), so with two names the photos of both rank above those of one. The signal implements
``gallerfs.search.signals.Signal``; ``for_query`` gives None when the query names nobody.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gallerfs.db import faces as faces_db
from gallerfs.db.connection import Database
from gallerfs.search.filters import Scope
from gallerfs.search.registry import Query


def named_in(query: str, names: list[str]) -> list[str]:
    """The names that occur in the query as whole words (case-insensitive), longest first."""
    found = []
    text = query.casefold()
    for name in sorted(names, key=len, reverse=True):
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in name.casefold().split()) + r"(?!\w)"
        if name.strip() and re.search(pattern, text):
            found.append(name)
            text = re.sub(pattern, " ", text)  # 'Bob' does not match again inside 'Uncle Bob'
    return found


@dataclass(frozen=True)
class PeopleSignal:
    person_ids: tuple[int, ...]
    names: tuple[str, ...]
    name: str = "people"
    weight: float = 1.0

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        counts: dict[int, int] = {}
        for person_id in self.person_ids:
            for file_id in faces_db.person_file_ids(db, person_id):
                counts[file_id] = counts.get(file_id, 0) + 1
        kept = scope.keep(db, list(counts))
        n = len(self.person_ids)
        ranked = sorted(((f, c / n) for f, c in counts.items() if f in kept), key=lambda fc: (-fc[1], -fc[0]))
        return dict(ranked[:k])


def for_query(db: Database, query: str) -> PeopleSignal | None:
    names = named_in(query, faces_db.person_names(db))
    if not names:
        return None
    ids = tuple(faces_db.find_person(db, n).id for n in names)
    return PeopleSignal(ids, tuple(names))


def make(query: Query) -> PeopleSignal | None:
    """The registry's entry (``gallerfs.search.registry``)."""
    return for_query(query.db, query.text)
