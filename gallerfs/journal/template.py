"""Rendering a new entry, and reading an entry's YAML front matter. Pure functions.

A daily entry ``2024-07-14.md``::

    ---
    date: 2024-07-14
    week: 2024-W28
    tags:
    - journal
    photos:
    - 12
    - 13
    ---

    # Sunday 14 July 2024

    ![IMG_0042.jpg](_photos/2024-07-14/IMG_0042.jpg)

A weekly entry ``2024-W28.md`` has ``date`` set to its Monday, the tags
``journal`` and ``weekly``, and one ``##`` section per day. ``photos`` holds
library file ids. Both Obsidian (properties) and Logseq read this front matter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Sequence

import yaml

from gallerfs.journal.links import photo_markdown
from gallerfs.journal.periods import Period

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


@dataclass(frozen=True)
class TemplatePhoto:
    """A photo as an entry shows it: its library id, day and name in the mount."""

    file_id: int
    day: dt.date
    name: str


def long_date(day: dt.date, *, year: bool = True) -> str:
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if year else text


def title(period: Period) -> str:
    if period.kind == "day":
        return long_date(period.start)
    s, e = period.start, period.end
    week = int(period.name.split("W")[1])
    iso_year = int(period.name[:4])
    if s.month == e.month:
        span = f"{s.day}–{e.day} {_MONTHS[s.month - 1]} {e.year}"
    elif s.year == e.year:
        span = f"{s.day} {_MONTHS[s.month - 1]} – {e.day} {_MONTHS[e.month - 1]} {e.year}"
    else:
        span = f"{s.day} {_MONTHS[s.month - 1]} {s.year} – {e.day} {_MONTHS[e.month - 1]} {e.year}"
    return f"Week {week} of {iso_year} ({span})"


def front_matter(period: Period, photo_ids: Sequence[int], tags: Sequence[str]) -> str:
    data: dict[str, Any] = {
        "date": period.start,
        "week": period.week,
        "tags": list(tags),
        "photos": [int(i) for i in photo_ids],
    }
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return f"---\n{text}---\n"


def render_entry(period: Period, photos: Sequence[TemplatePhoto]) -> str:
    """The text of a new entry for ``period`` listing ``photos`` (in the order given)."""
    tags = ["journal"] if period.kind == "day" else ["journal", "weekly"]
    inside = [p for p in photos if p.day in period]
    lines = [front_matter(period, [p.file_id for p in inside], tags), f"# {title(period)}", ""]
    if period.kind == "day":
        lines.extend(photo_markdown(p.day, p.name) for p in inside)
        if inside:
            lines.append("")
    else:
        for day in period.days():
            lines.append(f"## {long_date(day, year=False)}")
            lines.append("")
            of_day = [p for p in inside if p.day == day]
            lines.extend(photo_markdown(p.day, p.name) for p in of_day)
            if of_day:
                lines.append("")
    return "\n".join(lines)


def split_front_matter(text: str) -> tuple[dict[str, Any] | None, str]:
    """(front matter as a dict, body); (None, text) when there is none or it is not valid YAML."""
    if not text.startswith("---"):
        return None, text
    lines = text.splitlines(keepends=True)
    if lines[0].rstrip("\r\n") != "---":
        return None, text
    for i in range(1, len(lines)):
        if lines[i].rstrip("\r\n") in ("---", "..."):
            try:
                data = yaml.safe_load("".join(lines[1:i]))
            except yaml.YAMLError:
                return None, text
            if data is None:
                data = {}
            if not isinstance(data, dict):
                return None, text
            return data, "".join(lines[i + 1 :])
    return None, text
