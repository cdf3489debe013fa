"""Which library photos belong to a journal period, under which names, and back.

A photo's day and its name inside a day folder follow the mount's ``by-date/``
rules, so that ``_photos/YYYY-MM-DD/<name>`` (and ``by-date/YYYY/MM/DD/<name>``)
name an existing file of the mount: the day is the date taken when known, else
the local date of the file's modification time; names that collide inside a
day get the mount's deterministic ``name (2).ext`` suffixes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Sequence

from gallerfs.db import journal as jdb
from gallerfs.db.tree import FileRow
from gallerfs.filenames import unique_names
from gallerfs.journal.links import PhotoRef
from gallerfs.journal.periods import Period
from gallerfs.journal.template import TemplatePhoto

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

_DAY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def photo_day(taken_at: str | None, mtime_ns: int) -> dt.date | None:
    """The day a file is filed under in by-date/: date taken, else local file time.

    None for a date taken that looks like a day but is none (2024-02-30): the
    mount files it under that impossible day, which no journal period holds.
    """
    if taken_at and _DAY.match(taken_at[:10]):
        try:
            return dt.date.fromisoformat(taken_at[:10])
        except ValueError:
            return None
    try:
        return dt.datetime.fromtimestamp(mtime_ns / 1e9).date()
    except (OverflowError, OSError, ValueError):
        return dt.date(1970, 1, 1)


def day_names(files: Sequence[jdb.CandidateFile]) -> dict[int, bytes]:
    """The names the files of one day get in the mount's day folder (its own naming function)."""
    rows = [FileRow(f.id, f.source_id, f.name, f.size, f.mtime_ns, f.ctime_ns) for f in files]
    return {row.id: name for name, row in unique_names(rows)}


def _by_day(db: Database, start: dt.date, end: dt.date) -> dict[dt.date, list[jdb.CandidateFile]]:
    grouped: dict[dt.date, list[jdb.CandidateFile]] = defaultdict(list)
    for f in jdb.candidate_files(db, start, end):
        day = photo_day(f.taken_at, f.mtime_ns)
        if day is not None and start <= day <= end:
            grouped[day].append(f)
    return grouped


def _sort_key(f: jdb.CandidateFile) -> tuple[float, str, int]:
    when = f.sort_time if f.sort_time is not None else f.mtime_ns / 1e9
    return (when, f.taken_at or "", f.id)


def period_photos(db: Database, period: Period) -> list[TemplatePhoto]:
    """The photos and videos of a period, in the order they were taken, with their mount names."""
    out: list[TemplatePhoto] = []
    grouped = _by_day(db, period.start, period.end)
    for day in sorted(grouped):
        files = grouped[day]
        names = day_names(files)
        for f in sorted(files, key=_sort_key):
            out.append(TemplatePhoto(f.id, day, os.fsdecode(names[f.id])))
    return out


def photos_per_day(db: Database, start: dt.date, end: dt.date) -> dict[dt.date, int]:
    """How many photos and videos each day in [start, end] has, by the by-date/ rule (for calendars)."""
    return {day: len(files) for day, files in _by_day(db, start, end).items()}


def resolve_refs(db: Database, refs: Sequence[PhotoRef]) -> list[int | None]:
    """The library file id each reference names (None where it names nothing), in order.

    Days close together are looked up with one query (a week's entry costs one).
    """
    index: dict[tuple[dt.date, str], int] = {}
    days = sorted({r.day for r in refs})
    spans: list[list[dt.date]] = []
    for day in days:
        if spans and (day - spans[-1][-1]).days <= 7:
            spans[-1].append(day)
        else:
            spans.append([day])
    for span in spans:
        grouped = _by_day(db, span[0], span[-1])
        for day in span:
            for fid, name in day_names(grouped.get(day, [])).items():
                index[(day, os.fsdecode(name))] = fid
    return [index.get((r.day, r.name)) for r in refs]
