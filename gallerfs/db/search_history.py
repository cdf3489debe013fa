"""Recent queries of the mount's ``search/`` folder, and the rows its result folders list.

Writes take a writer ``Database``; reads a reader. Recording a query does not
bump ``library_state.generation``: it changes no listing but ``search/`` itself,
which the mount never caches.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Iterable

from gallerfs.db.tree import FileRow

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

MAX_REMEMBERED = 100  # default of the search_history setting: older queries are forgotten


def recent_queries(db: Database, limit: int = MAX_REMEMBERED) -> list[str]:
    """Remembered queries, most recently used first."""
    return [
        r[0] for r in db.tuples("SELECT query FROM search_queries ORDER BY last_used DESC, query LIMIT ?", (limit,))
    ]


def record_query(db: Database, query: str, when: float | None = None, keep: int = MAX_REMEMBERED) -> None:
    """Remember *query* (or refresh its time); keeps the *keep* most recently used."""
    now = time.time() if when is None else when
    with db.transaction():
        db.execute(
            "INSERT INTO search_queries (query, last_used) VALUES (?, ?) "
            "ON CONFLICT (query) DO UPDATE SET last_used = max(last_used, excluded.last_used)",
            (query, now),
        )
        db.execute(
            "DELETE FROM search_queries WHERE query NOT IN "
            "(SELECT query FROM search_queries ORDER BY last_used DESC LIMIT ?)",
            (max(1, keep),),
        )


def forget_query(db: Database, query: str) -> bool:
    """Forget *query*; False when it was not remembered."""
    with db.transaction():
        db.execute("DELETE FROM search_queries WHERE query = ?", (query,))
        return db.changes() > 0


def file_rows(db: Database, file_ids: Iterable[int]) -> dict[int, FileRow]:
    """The mount rows of the given library files (ids no longer in the library are absent)."""
    ids = list(dict.fromkeys(file_ids))
    out: dict[int, FileRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.tuples(
            f"SELECT id, source_id, name, size, mtime_ns, ctime_ns FROM files WHERE id IN ({marks})", tuple(chunk)
        ):
            out[r[0]] = FileRow(r[0], r[1], bytes(r[2]), r[3], r[4], r[5])
    return out
