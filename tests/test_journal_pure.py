"""Journal pure functions: periods (ISO weeks), template, front matter, links."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from gallerfs.errors import GallerfsError
from gallerfs.journal.links import (
    PhotoRef,
    link_targets,
    parse_photo_target,
    photo_markdown,
    photo_refs,
    photo_target,
)
from gallerfs.journal.periods import parse_filename, parse_name, parse_period, week_of
from gallerfs.journal.template import TemplatePhoto, render_entry, split_front_matter, title


def d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


@pytest.mark.parametrize(
    "day, week, monday, sunday",
    [
        ("2024-07-14", "2024-W28", "2024-07-08", "2024-07-14"),
        ("2024-07-15", "2024-W29", "2024-07-15", "2024-07-21"),
        ("2020-12-31", "2020-W53", "2020-12-28", "2021-01-03"),
        ("2021-01-03", "2020-W53", "2020-12-28", "2021-01-03"),
        ("2021-01-04", "2021-W01", "2021-01-04", "2021-01-10"),
        ("2019-12-30", "2020-W01", "2019-12-30", "2020-01-05"),
        ("2026-12-31", "2026-W53", "2026-12-28", "2027-01-03"),
    ],
)
def test_iso_week_boundaries(day: str, week: str, monday: str, sunday: str) -> None:
    p = week_of(d(day))
    assert p.name == week
    assert (p.start, p.end) == (d(monday), d(sunday))
    assert d(day) in p
    parsed = parse_period(week)
    assert parsed == p
    assert parsed.days()[0].weekday() == 0 and len(parsed.days()) == 7


def test_parse_period_forms_and_errors() -> None:
    today = d("2024-07-14")
    assert parse_period("2024-07-14").kind == "day"
    assert parse_period("2024-07-14.md").name == "2024-07-14"
    assert parse_period("2024-w28").name == "2024-W28"
    assert parse_period("today", today).name == "2024-07-14"
    assert parse_period("yesterday", today).name == "2024-07-13"
    assert parse_period("week", today).name == "2024-W28"
    assert parse_period("last-week", today).name == "2024-W27"
    for bad in ("2024-02-30", "2021-W53", "2024-W00", "14/07/2024", "", "2024-7-14"):
        with pytest.raises(GallerfsError):
            parse_period(bad)
    assert parse_name("2021-W53") is None
    assert parse_name("notes") is None
    assert parse_filename("2024-07-14.md").name == "2024-07-14"
    assert parse_filename("2024-07-14.txt") is None
    assert parse_filename("2020-W53.md").end == d("2021-01-03")


def test_daily_template_front_matter_and_links() -> None:
    period = parse_period("2024-07-14")
    photos = [
        TemplatePhoto(12, d("2024-07-14"), "IMG_0001.jpg"),
        TemplatePhoto(40, d("2024-07-14"), "IMG_0001 (2).jpg"),
        TemplatePhoto(41, d("2024-07-14"), "clip.mp4"),
        TemplatePhoto(99, d("2024-07-13"), "other-day.jpg"),  # not of the period: left out
    ]
    text = render_entry(period, photos)
    front, body = split_front_matter(text)
    assert front == {"date": d("2024-07-14"), "week": "2024-W28", "tags": ["journal"], "photos": [12, 40, 41]}
    assert yaml.safe_load(text.split("---\n")[1]) == front
    assert "# Sunday 14 July 2024" in body
    assert "![IMG_0001.jpg](_photos/2024-07-14/IMG_0001.jpg)" in body
    assert "(_photos/2024-07-14/IMG_0001%20%282%29.jpg)" in body
    assert "[clip.mp4](_photos/2024-07-14/clip.mp4)" in body and "![clip.mp4]" not in body
    assert "other-day" not in text
    assert photo_refs(body) == [
        PhotoRef(d("2024-07-14"), "IMG_0001.jpg"),
        PhotoRef(d("2024-07-14"), "IMG_0001 (2).jpg"),
        PhotoRef(d("2024-07-14"), "clip.mp4"),
    ]


def test_weekly_template_groups_days_across_new_year() -> None:
    period = parse_period("2020-W53")
    photos = [
        TemplatePhoto(1, d("2020-12-31"), "dec31.jpg"),
        TemplatePhoto(2, d("2021-01-03"), "jan03.jpg"),
        TemplatePhoto(3, d("2021-01-04"), "jan04.jpg"),
    ]
    text = render_entry(period, photos)
    front, body = split_front_matter(text)
    assert front == {"date": d("2020-12-28"), "week": "2020-W53", "tags": ["journal", "weekly"], "photos": [1, 2]}
    headings = [line for line in body.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Monday 28 December", "## Tuesday 29 December", "## Wednesday 30 December", "## Thursday 31 December",
        "## Friday 1 January", "## Saturday 2 January", "## Sunday 3 January",
    ]  # fmt: skip
    assert body.index("dec31.jpg") > body.index("## Thursday 31 December") > 0
    assert body.index("jan03.jpg") > body.index("## Sunday 3 January")
    assert "jan04" not in body
    assert title(period) == "Week 53 of 2020 (28 December 2020 – 3 January 2021)"
    assert title(parse_period("2024-W28")) == "Week 28 of 2024 (8–14 July 2024)"


def test_front_matter_edge_cases() -> None:
    assert split_front_matter("no front matter") == (None, "no front matter")
    assert split_front_matter("---\n: [bad\n---\nbody")[0] is None
    assert split_front_matter("---\n- a list\n---\nbody")[0] is None
    assert split_front_matter("---\n---\nbody") == ({}, "body")
    assert split_front_matter("---\ntags: [x]\n...\nbody\n") == ({"tags": ["x"]}, "body\n")
    assert split_front_matter("---\nunterminated: 1\n") == (None, "---\nunterminated: 1\n")


def test_link_parsing_forms() -> None:
    text = """
A ![img](_photos/2024-07-14/a.jpg "title") and [plain](<_photos/2024-07-14/b c.jpg>)
and [[_photos/2024-07-14/w.jpg|alias]] and ![[_photos/2024-07-14/e.jpg]]
and [by date](../by-date/2024/07/15/x%20y.jpg) and <img src="./_photos/2024-07-16/h.png">
not these: [web](https://example.com/_photos/2024-07-14/a.jpg) [bad](_photos/2024-13-40/a.jpg)
[deep](_photos/2024-07-14/sub/a.jpg) [note](other.md) [a.jpg](_photos/2024-07-14/a.jpg)
"""
    targets = link_targets(text)
    assert "other.md" in targets and "https://example.com/_photos/2024-07-14/a.jpg" in targets
    assert photo_refs(text) == [
        PhotoRef(d("2024-07-14"), "a.jpg"),
        PhotoRef(d("2024-07-14"), "b c.jpg"),
        PhotoRef(d("2024-07-14"), "w.jpg"),
        PhotoRef(d("2024-07-14"), "e.jpg"),
        PhotoRef(d("2024-07-15"), "x y.jpg"),
        PhotoRef(d("2024-07-16"), "h.png"),
    ]


def test_photo_target_round_trips_odd_names() -> None:
    day = d("2024-07-14")
    for name in ["IMG_0001 (2).jpg", "été #1?.jpg", "100%.png", "a]b[c.jpg", "x\udcff.jpg", "tab\there.jpg"]:
        target = photo_target(day, name)
        assert " " not in target and "(" not in target and "#" not in target.split("/", 2)[2]
        assert parse_photo_target(target) == PhotoRef(day, name)
        line = photo_markdown(day, name)
        assert photo_refs(line) == [PhotoRef(day, name)], line
