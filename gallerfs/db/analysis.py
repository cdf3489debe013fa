"""What the per-file analyses (CLIP vectors, OCR, tags, faces) share in the index.

Each analysis keeps a marker row per file (``embeddings``, ``ocr``, ``tagged``, ``face_scans``) with the
size and mtime of the version it looked at, so a file needs the analysis when it has no marker for its
current version (:func:`needs`), and a result is stored only if the file did not change while it was
analysed (:func:`unchanged`). The analyses look at the same kinds of file: those phase 2 makes a
preview of (:data:`KINDS_IN`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gallerfs.db.connection import Database

ANALYSED_KINDS = ("image", "raw", "video")
# SQL: the file ``f`` is of a kind the analyses look at.
KINDS_IN = f"f.kind IN ({', '.join(repr(k) for k in ANALYSED_KINDS)})"


def needs(marker: str, *also: str) -> str:
    """SQL: the file ``f`` has no row in the marker table LEFT JOINed as *marker* for its current version
    (size and mtime), or any of the conditions *also* holds (another model, ...)."""
    stale = (f"{marker}.file_id IS NULL", f"{marker}.size != f.size", f"{marker}.mtime_ns != f.mtime_ns", *also)
    return f"({' OR '.join(stale)})"


class Version(Protocol):
    """The version of a file a task read: its id, size and mtime."""

    @property
    def file_id(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def mtime_ns(self) -> int: ...


@dataclass(frozen=True)
class FileTask:
    """A file to analyse, as its task row names it: where it is and which version of it is to do."""

    file_id: int
    source_id: int
    relpath: bytes
    root: bytes
    size: int
    mtime_ns: int

    @property
    def path(self) -> bytes:
        return self.root.rstrip(b"/") + b"/" + self.relpath


def unchanged(db: Database, task: Version) -> bool:
    """Whether the file is still the version the task read (a result of an older version is not stored)."""
    return bool(db.value("SELECT count(*) FROM files WHERE id = ? AND size = ? AND mtime_ns = ?",
                         (task.file_id, task.size, task.mtime_ns)))  # fmt: skip


def mark(db: Database, table: str, task: Version, error: str | None, **columns: object) -> None:
    """Write the file's marker row in *table* (replacing any): the version analysed, state ``done``, or
    ``error`` with the error; *columns* are the table's own (when, which model, ...). Call inside a
    transaction."""
    names = ("file_id", "size", "mtime_ns", "state", "error", *columns)
    db.execute(
        f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        (task.file_id, task.size, task.mtime_ns, "done" if error is None else "error", error, *columns.values()),
    )
