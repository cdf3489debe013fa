"""Parsing of the date formats found in EXIF, XMP, IPTC and video containers.

A parsed date is a `Taken`: the local wall-clock time as written in the file
(`taken_at`, ISO 'YYYY-MM-DDTHH:MM:SS[.ffffff]'), the UTC offset when the file
states one ('+02:00'), and where it came from.

sort_time (a unix timestamp) is `taken_at` read at `utc_offset` when there is
one, otherwise read as if it were UTC. Files without an offset (most EXIF) thus
sort by their wall-clock time, which keeps a day's photos on the same
by-date/ day whatever the machine's time zone is; the error against true UTC
is at most the photographer's zone offset.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UTC = dt.UTC

_DATE_RE = re.compile(
    r"^\s*(\d{4})[:\-/.](\d{1,2})[:\-/.](\d{1,2})"  # date
    r"(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?)?"  # time and fraction
    r"\s*(Z|[+\-]\d{2}:?\d{2}|[+\-]\d{2})?\s*$",  # zone
    re.IGNORECASE,
)
_OFFSET_RE = re.compile(r"^\s*(Z|[+\-]\d{2}:?\d{2}|[+\-]\d{2})\s*$", re.IGNORECASE)
_CTIME_RE = re.compile(  # 'Mon Mar 10 15:04:43 2003' (RIFF IDIT)
    r"^\s*\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s*$"
)
_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}


@dataclass(frozen=True)
class Taken:
    taken_at: str  # 'YYYY-MM-DDTHH:MM:SS[.ffffff]', local wall clock
    utc_offset: str | None  # '+02:00'
    source: str  # exif, xmp, iptc, quicktime, riff, mtime

    @property
    def sort_time(self) -> float:
        return sort_time(self.taken_at, self.utc_offset)


def normalise_offset(text: str | None) -> str | None:
    """'+0200', '+02', '+02:00', 'Z' -> '+02:00' / '+00:00'; None if not an offset."""
    if not text:
        return None
    m = _OFFSET_RE.match(text)
    if not m:
        return None
    value = m.group(1).upper()
    if value == "Z":
        return "+00:00"
    sign, digits = value[0], value[1:].replace(":", "")
    if len(digits) == 2:
        digits += "00"
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes >= 60:
        return None
    return f"{sign}{hours:02d}:{minutes:02d}"


def _fraction(digits: str | None) -> int:
    if not digits:
        return 0
    return int((digits + "000000")[:6])


def parse_date(text: object, source: str, subsec: object = None, offset: object = None) -> Taken | None:
    """Parse 'YYYY:MM:DD HH:MM:SS[.ss][zone]' (and ISO/XMP variants) into a Taken.

    Returns None for empty, all-zero or impossible dates. `subsec` (EXIF
    SubSecTime*) and `offset` (EXIF OffsetTime*) refine the result when the
    text itself has no fraction or zone. A date without a time means midnight.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if not isinstance(text, str):
        return None
    text = text.strip("\x00 \t\r\n")
    m = _DATE_RE.match(text)
    if m is None:
        return _parse_ctime(text, source)
    year, month, day, hour, minute, second, frac, zone = m.groups()
    try:
        when = dt.datetime(
            int(year), int(month), int(day),
            int(hour or 0), int(minute or 0), int(second or 0),
            _fraction(frac),
        )
    except ValueError:
        return None
    if when.year < 1800:
        return None
    if not frac and subsec is not None:
        digits = str(subsec).strip("\x00 ")
        if digits.isdigit():
            when = when.replace(microsecond=_fraction(digits))
    utc_offset = normalise_offset(zone) or normalise_offset(offset if isinstance(offset, str) else None)
    return Taken(format_local(when), utc_offset, source)


def _parse_ctime(text: str, source: str) -> Taken | None:
    m = _CTIME_RE.match(text)
    if not m:
        return None
    month = _MONTHS.get(m.group(1).lower())
    if month is None:
        return None
    try:
        when = dt.datetime(int(m.group(6)), month, int(m.group(2)),
                           int(m.group(3)), int(m.group(4)), int(m.group(5)))
    except ValueError:
        return None
    return Taken(format_local(when), None, source)


def format_local(when: dt.datetime) -> str:
    """ISO wall-clock text, with microseconds only when there are any."""
    when = when.replace(tzinfo=None)
    if when.microsecond:
        return when.isoformat(timespec="microseconds")
    return when.isoformat(timespec="seconds")


def sort_time(taken_at: str, utc_offset: str | None) -> float:
    """Unix time of taken_at: read at utc_offset if given, else as UTC (see module doc)."""
    when = dt.datetime.fromisoformat(taken_at)
    tz = UTC
    if utc_offset:
        sign = -1 if utc_offset.startswith("-") else 1
        hours, minutes = int(utc_offset[1:3]), int(utc_offset[4:6])
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    return when.replace(tzinfo=tz).timestamp()


def from_utc(when: dt.datetime, source: str) -> Taken:
    """A Taken for an instant known in UTC (QuickTime CreateDate): wall clock at +00:00."""
    return Taken(format_local(when.astimezone(UTC)), "+00:00", source)


def from_mtime(mtime: float) -> Taken:
    """Fallback: the file's modification time as local wall clock with the local offset.

    Its sort_time is exactly `mtime`.
    """
    when = dt.datetime.fromtimestamp(mtime, UTC).astimezone()
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return Taken(format_local(when), f"{sign}{minutes // 60:02d}:{minutes % 60:02d}", "mtime")
