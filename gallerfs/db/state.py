"""The library's change counter: writers bump it, readers poll it to refresh caches."""

from __future__ import annotations

from gallerfs.db.connection import Database


def bump_generation(db: Database) -> int:
    """Tell readers (mount, viewer) that the library changed. Call inside the write transaction."""
    db.execute("UPDATE library_state SET generation = generation + 1 WHERE id = 1")
    return generation(db)


def generation(db: Database) -> int:
    return int(db.value("SELECT generation FROM library_state WHERE id = 1"))
