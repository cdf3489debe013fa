"""Recent queries of the mount's ``search/`` folder, and the rows its result folders list.

Writes take a writer ``Database``; reads a reader. Recording a query does not
bump ``library_state.generation``: it changes no listing but ``search/`` itself,
which the mount never caches.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from gallerfs.db.tree import file_rows  # the rows search/ result folders list: the mount's one file row

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

__all__ = ["MAX_REMEMBERED", "recent_queries", "record_query", "forget_query", "file_rows"]

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
