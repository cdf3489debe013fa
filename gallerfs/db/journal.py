"""Queries of the journal: the photos of a period, entries and their mentions.

Days are decided in Python by ``gallerfs.journal.photos`` (the same rule as
the mount's ``by-date/``); the SQL here only narrows to the candidates.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

# A file without a date taken is placed by its local file time; any time zone is within this.
_TZ_MARGIN_NS = 2 * 86400 * 1_000_000_000


@dataclass(frozen=True)
class CandidateFile:
    """A library file that may belong to a period, with what decides its day."""

    id: int
    source_id: int
    name: bytes
    kind: str
    size: int
    mtime_ns: int
    ctime_ns: int
    taken_at: str | None
    sort_time: float | None


@dataclass(frozen=True)
class EntryRow:
    id: int
    relpath: bytes
    name: str
    period: str | None
    period_start: str | None
    period_end: str | None
    mtime_ns: int
    size: int
    scanned_at: float
    mentions: int
    had_content: bool  # seen non-empty once: the user's, even if they empty it


@dataclass(frozen=True)
class MentionedFile:
    file_id: int
    source_path: bytes
    relpath: bytes
    name: bytes
    kind: str
    online: bool

    @property
    def path(self) -> bytes:
        return self.source_path.rstrip(b"/") + b"/" + self.relpath


def candidate_files(db: Database, start: dt.date, end: dt.date) -> list[CandidateFile]:
    """Files whose date taken falls in [start, end], or whose file time is within two days of it."""
    lo_text = start.isoformat()
    hi_text = (end + dt.timedelta(days=1)).isoformat()
    epoch = dt.datetime(1970, 1, 1)
    lo_ns = int((dt.datetime.combine(start, dt.time()) - epoch).total_seconds()) * 1_000_000_000 - _TZ_MARGIN_NS
    hi_ns = int((dt.datetime.combine(end, dt.time()) - epoch).total_seconds()) * 1_000_000_000 + 86400 * 10**9
    hi_ns += _TZ_MARGIN_NS
    cols = "f.id, f.source_id, f.name, f.kind, f.size, f.mtime_ns, f.ctime_ns, m.taken_at, m.sort_time"
    # Two index-friendly queries (metadata_by_taken, files_by_mtime) instead of one OR over both.
    by_id = {
        r[0]: r
        for r in db.tuples(
            f"SELECT {cols} FROM metadata m JOIN files f ON f.id = m.file_id "
            "WHERE m.taken_at >= ? AND m.taken_at < ?",
            (lo_text, hi_text),
        )
    }
    for r in db.tuples(
        f"SELECT {cols} FROM files f LEFT JOIN metadata m ON m.file_id = f.id WHERE f.mtime_ns BETWEEN ? AND ?",
        (lo_ns, hi_ns),
    ):
        by_id.setdefault(r[0], r)
    rows = [by_id[k] for k in sorted(by_id)]
    return [
        CandidateFile(
            int(r[0]), int(r[1]), bytes(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6]),
            r[7] if isinstance(r[7], str) else None, float(r[8]) if r[8] is not None else None,
        )
        for r in rows
    ]  # fmt: skip


def months_with_photos(db: Database) -> list[tuple[str, int]]:
    """('YYYY-MM', files) of every month holding photos, newest first, by the day rule of ``by-date/`` (date
    taken, else the local file time): for the journal calendar's month picker."""
    rows = db.tuples(
        "SELECT coalesce(substr(m.taken_at, 1, 7), strftime('%Y-%m', f.mtime_ns / 1e9, 'unixepoch', 'localtime')) "
        "AS ym, count(*) FROM files f LEFT JOIN metadata m ON m.file_id = f.id GROUP BY ym ORDER BY ym DESC"
    )
    return [(str(ym), int(n)) for ym, n in rows if ym]


def file_locations(db: Database, file_ids: Sequence[int]) -> dict[int, MentionedFile]:
    """Where each of these files lives (missing ids are left out)."""
    out: dict[int, MentionedFile] = {}
    ids = [int(i) for i in file_ids]
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for r in db.tuples(
            "SELECT f.id, s.path, f.relpath, f.name, f.kind, s.online FROM files f "
            f"JOIN sources s ON s.id = f.source_id WHERE f.id IN ({marks})",
            chunk,
        ):
            out[int(r[0])] = MentionedFile(int(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3]), str(r[4]), bool(r[5]))
    return out


# -- entries -----------------------------------------------------------------

_ENTRY_COLS = (
    "e.id, e.relpath, e.name, e.period, e.period_start, e.period_end, e.mtime_ns, e.size, e.scanned_at, "
    "(SELECT count(*) FROM journal_mentions jm WHERE jm.entry_id = e.id), e.had_content"
)


def _entry(r: tuple[Any, ...]) -> EntryRow:
    return EntryRow(
        int(r[0]), bytes(r[1]), str(r[2]), r[3], r[4], r[5], int(r[6]), int(r[7]), float(r[8]), int(r[9]),
        bool(r[10]),
    )


def list_entries(db: Database) -> list[EntryRow]:
    """All recorded entries, periods first in date order, then other notes by name."""
    return [
        _entry(r)
        for r in db.tuples(
            f"SELECT {_ENTRY_COLS} FROM journal_entries e "
            "ORDER BY e.period_start IS NULL, e.period_start, e.period_end DESC, e.relpath"
        )
    ]


def get_entry(db: Database, relpath: bytes) -> EntryRow | None:
    rows = db.tuples(f"SELECT {_ENTRY_COLS} FROM journal_entries e WHERE e.relpath = ?", (relpath,))
    return _entry(rows[0]) if rows else None


def had_content(db: Database, relpath: bytes) -> bool:
    """Whether the note was ever seen with content (then it is the user's, even emptied)."""
    return bool(db.value("SELECT had_content FROM journal_entries WHERE relpath = ?", (relpath,)))


def entry_stamps(db: Database) -> dict[bytes, tuple[int, int]]:
    """relpath -> (mtime_ns, size) of every recorded entry, to tell which files changed."""
    rows = db.tuples("SELECT relpath, mtime_ns, size FROM journal_entries")
    return {bytes(r[0]): (int(r[1]), int(r[2])) for r in rows}


def record_entry(
    db: Database,
    *,
    relpath: bytes,
    name: str,
    period: str | None,
    period_start: str | None,
    period_end: str | None,
    mtime_ns: int,
    size: int,
    file_ids: Iterable[int],
) -> int:
    """Insert or update an entry and replace its mentions; returns the entry id."""
    with db.transaction():
        db.execute(
            "INSERT INTO journal_entries (relpath, name, period, period_start, period_end, mtime_ns, size, "
            "had_content, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (relpath) DO UPDATE SET "
            "name = excluded.name, period = excluded.period, period_start = excluded.period_start, "
            "period_end = excluded.period_end, mtime_ns = excluded.mtime_ns, size = excluded.size, "
            "had_content = max(had_content, excluded.had_content), scanned_at = excluded.scanned_at",
            (relpath, name, period, period_start, period_end, mtime_ns, size, int(size > 0), time.time()),
        )
        entry_id = int(db.value("SELECT id FROM journal_entries WHERE relpath = ?", (relpath,)))
        db.execute("DELETE FROM journal_mentions WHERE entry_id = ?", (entry_id,))
        ids = list(dict.fromkeys(int(i) for i in file_ids))
        existing = set(file_locations(db, ids))
        db.executemany(
            "INSERT INTO journal_mentions (entry_id, file_id, position) VALUES (?, ?, ?)",
            [(entry_id, fid, pos) for pos, fid in enumerate(i for i in ids if i in existing)],
        )
    return entry_id


def forget_entries(db: Database, relpaths: Iterable[bytes]) -> int:
    """Delete entries (and their mentions) whose files are gone; returns how many."""
    paths = list(relpaths)
    with db.transaction():
        for p in paths:
            db.execute("DELETE FROM journal_entries WHERE relpath = ?", (p,))
    return len(paths)


def entry_mentions(db: Database, entry_id: int) -> list[int]:
    return [
        int(r[0])
        for r in db.tuples(
            "SELECT file_id FROM journal_mentions WHERE entry_id = ? ORDER BY position", (entry_id,)
        )
    ]


def entries_mentioning(db: Database, file_id: int) -> list[EntryRow]:
    """The entries that link to a file (for the photo page of the viewer)."""
    return [
        _entry(r)
        for r in db.tuples(
            f"SELECT {_ENTRY_COLS} FROM journal_entries e JOIN journal_mentions m ON m.entry_id = e.id "
            "WHERE m.file_id = ? ORDER BY e.period_start IS NULL, e.period_start, e.relpath",
            (file_id,),
        )
    ]


def journaled_file_ids(db: Database) -> set[int]:
    """Ids of every library file some journal entry links to (``gallerfs search --journaled``)."""
    return {int(r[0]) for r in db.tuples("SELECT DISTINCT file_id FROM journal_mentions")}


def journaled_sql() -> str:
    """A condition on ``f.id`` for callers that filter in SQL: files mentioned in the journal."""
    return "f.id IN (SELECT file_id FROM journal_mentions)"
