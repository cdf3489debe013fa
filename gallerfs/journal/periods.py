"""Journal periods: one day (``YYYY-MM-DD``) or one ISO 8601 week (``YYYY-Www``).

ISO weeks start on Monday; week 1 is the week holding the year's first
Thursday, so 2020-12-31 is in 2020-W53 and 2021-01-03 is in 2020-W53 too.
A week's name uses its ISO year, which differs from the calendar year of its
days around New Year. These are pure functions; nothing here touches disk.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gallerfs.errors import GallerfsError

_DAY_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK_RE = re.compile(r"^(\d{4})-[Ww](\d{2})$")


@dataclass(frozen=True)
class Period:
    """A day or an ISO week, with its first and last day (inclusive)."""

    kind: str  # 'day' or 'week'
    name: str  # '2024-07-14' or '2024-W28': the entry's file name without '.md'
    start: dt.date
    end: dt.date  # inclusive

    @property
    def filename(self) -> str:
        return f"{self.name}.md"

    @property
    def week(self) -> str:
        """The ISO week holding the period's first day, e.g. '2024-W28'."""
        year, week, _ = self.start.isocalendar()
        return f"{year:04d}-W{week:02d}"

    def days(self) -> list[dt.date]:
        n = (self.end - self.start).days + 1
        return [self.start + dt.timedelta(days=i) for i in range(n)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end


def day_period(day: dt.date) -> Period:
    return Period("day", day.isoformat(), day, day)


def week_period(iso_year: int, week: int) -> Period:
    """The ISO week ``week`` of ``iso_year``; fails if that year has no such week."""
    try:
        start = dt.date.fromisocalendar(iso_year, week, 1)
    except ValueError:
        name = f"{iso_year:04d}-W{week:02d}"
        raise GallerfsError(f"{name} is not an ISO week (weeks run 01-52, or 53 in long years)") from None
    return Period("week", f"{iso_year:04d}-W{week:02d}", start, start + dt.timedelta(days=6))


def week_of(day: dt.date) -> Period:
    year, week, _ = day.isocalendar()
    return week_period(year, week)


def parse_name(name: str) -> Period | None:
    """The period a file stem names ('2024-07-14', '2024-W28'), or None for other names."""
    m = _DAY_RE.match(name)
    if m:
        try:
            return day_period(dt.date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError:
            return None
    m = _WEEK_RE.match(name)
    if m:
        year, week = int(m[1]), int(m[2])
        try:
            start = dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            return None
        return Period("week", f"{year:04d}-W{week:02d}", start, start + dt.timedelta(days=6))
    return None


def parse_filename(filename: str) -> Period | None:
    """The period of an entry file name ('2024-07-14.md'), or None."""
    if not filename.endswith(".md"):
        return None
    return parse_name(filename[:-3])


def missing_entry(period: Period) -> GallerfsError:
    return GallerfsError(f"no journal entry {period.name} (create it with 'gallerfs journal new {period.name}')")


def parse_period(text: str, today: dt.date | None = None) -> Period:
    """A period from the command line: YYYY-MM-DD, YYYY-Www, today, yesterday, week, last-week.

    A trailing '.md' is accepted so a file name can be passed as is.
    """
    raw = text.strip()
    if raw.endswith(".md"):
        raw = raw[:-3]
    today = today or dt.date.today()
    aliases = {
        "today": lambda: day_period(today),
        "yesterday": lambda: day_period(today - dt.timedelta(days=1)),
        "week": lambda: week_of(today),
        "this-week": lambda: week_of(today),
        "last-week": lambda: week_of(today - dt.timedelta(days=7)),
    }
    if raw.lower() in aliases:
        return aliases[raw.lower()]()
    m = _WEEK_RE.match(raw)
    if m:
        return week_period(int(m[1]), int(m[2]))
    m = _DAY_RE.match(raw)
    if m:
        try:
            return day_period(dt.date(int(m[1]), int(m[2]), int(m[3])))
        except ValueError as exc:
            raise GallerfsError(f"{text!r} is not a date: {exc}") from None
    raise GallerfsError(f"{text!r} is not a day (YYYY-MM-DD) or an ISO week (YYYY-Www)")
