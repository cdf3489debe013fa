"""Date expressions of plain-English queries, for ``query_parse``: '2019', 'July 2019', 'summer 2008',
'2019-2021', 'between March and May 2019', 'the 90s', 'last July', 'since 2019', ...

``date_at(words, today)`` reads the longest date expression (with its lead-in) at the start of a
list of folded words and returns how many words it took and what it means. Pure: ``today`` is given.
The rules for ambiguous words (may, march, august, spring, fall, month abbreviations) are in
``query_parse``'s docstring; here a lead-in or a year is the ``context`` that makes them dates.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTH_ABBREVIATIONS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
                       "oct": 10, "nov": 11, "dec": 12}  # fmt: skip
AMBIGUOUS_MONTHS = {"may", "march", "august"}
SEASONS = {"spring": (3, 4, 5), "summer": (6, 7, 8), "autumn": (9, 10, 11), "fall": (9, 10, 11),
           "winter": (12, 1, 2)}  # fmt: skip
AMBIGUOUS_SEASONS = {"spring", "fall"}
DATE_LEADS = {"in", "during", "from", "of", "on", "taken", "shot", "around"}
BOUND_LEADS = {"since": "since", "after": "after", "before": "before", "until": "until", "till": "until",
               "up to": "until"}  # fmt: skip
MIN_YEAR, MAX_YEAR = 1900, 2099


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive


@dataclass(frozen=True)
class DateValue:
    period: Period | None = None
    months: tuple[int, ...] = ()
    since: dt.date | None = None  # open ranges (since/after/before/until)
    until: dt.date | None = None


def _year(word: str) -> int | None:
    if re.fullmatch(r"\d{4}", word) and MIN_YEAR <= int(word) <= MAX_YEAR:
        return int(word)
    return None


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _month_period(year: int, month: int) -> Period:
    return Period(dt.date(year, month, 1), _month_end(year, month))


def _year_period(year: int) -> Period:
    return Period(dt.date(year, 1, 1), dt.date(year, 12, 31))


def _season_period(season: str, year: int) -> Period:
    months = SEASONS[season]
    if season == "winter":  # December of that year to February of the next
        return Period(dt.date(year, 12, 1), _month_end(year + 1, 2))
    return Period(dt.date(year, months[0], 1), _month_end(year, months[-1]))


def _month_of(word: str, *, allow_ambiguous: bool) -> int | None:
    if word in MONTHS and (allow_ambiguous or word not in AMBIGUOUS_MONTHS):
        return MONTHS[word]
    if allow_ambiguous and word in MONTH_ABBREVIATIONS:
        return MONTH_ABBREVIATIONS[word]
    return None


def _season_of(word: str, *, allow_ambiguous: bool) -> str | None:
    if word in SEASONS and (allow_ambiguous or word not in AMBIGUOUS_SEASONS):
        return word
    return None


def _day(word: str) -> int | None:
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", word)
    return int(m.group(1)) if m and 1 <= int(m.group(1)) <= 31 else None


def _iso(word: str) -> Period | None:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?", word)
    if not m or _year(m.group(1)) is None:
        return None
    try:
        if m.group(3):
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            return Period(day, day)
        return _month_period(int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None


def _year_range(word: str) -> Period | None:
    m = re.fullmatch(r"(\d{4})[-–](\d{2}|\d{4})", word)
    if not m:
        return None
    first = int(m.group(1))
    second = int(m.group(2)) if len(m.group(2)) == 4 else first // 100 * 100 + int(m.group(2))
    if _year(m.group(1)) is None or not (first < second <= MAX_YEAR):
        return None
    return Period(dt.date(first, 1, 1), dt.date(second, 12, 31))


def _decade(words: list[str]) -> tuple[int, Period] | None:
    """'1990s', 'the 90s', "'90s": (words taken, the decade)."""
    start = 1 if words and words[0] == "the" else 0
    if len(words) <= start:
        return None
    m = re.fullmatch(r"'?(\d{2}|\d{4})'?s", words[start])
    if not m:
        return None
    value = m.group(1)
    decade = int(value) if len(value) == 4 else (1900 + int(value) if int(value) >= 30 else 2000 + int(value))
    if decade % 10 or not MIN_YEAR <= decade <= MAX_YEAR - 9:
        return None
    return start + 1, Period(dt.date(decade, 1, 1), dt.date(decade + 9, 12, 31))


def _relative(words: list[str], today: dt.date) -> tuple[int, Period] | None:
    """'last year', 'this month', 'last July', 'last summer', 'yesterday', 'last week'."""
    if not words:
        return None
    if words[0] == "today":
        return 1, Period(today, today)
    if words[0] == "yesterday":
        day = today - dt.timedelta(days=1)
        return 1, Period(day, day)
    if len(words) < 2 or words[0] not in ("last", "this", "past"):
        return None
    which, what = words[0], words[1]
    if what == "year":
        year = today.year - (which != "this")
        return 2, _year_period(year)
    if what == "month":
        first = today.replace(day=1)
        if which != "this":
            first = (first - dt.timedelta(days=1)).replace(day=1)
        return 2, _month_period(first.year, first.month)
    if what == "week":
        monday = today - dt.timedelta(days=today.weekday())
        if which == "this":
            return 2, Period(monday, today)
        return 2, Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    month = _month_of(what, allow_ambiguous=True)
    if month is not None:  # this July: this year's; last July: the latest July before this month
        year = today.year if which == "this" or month < today.month else today.year - 1
        return 2, _month_period(year, month)
    season = _season_of(what, allow_ambiguous=True)
    if season is not None:
        if which == "this":  # in January, this winter began last December
            return 2, _season_period(season, today.year - (season == "winter" and today.month <= 2))
        year = today.year  # last summer: the latest one over before this month began
        while _season_period(season, year).end >= today.replace(day=1):
            year -= 1
        return 2, _season_period(season, year)
    return None


def _single_date(words: list[str], today: dt.date, *, context: bool) -> tuple[int, DateValue] | None:
    """The longest date expression at the start of ``words`` (folded). ``context``: a lead-in came
    before, which makes ambiguous months and seasons dates."""
    if not words:
        return None
    rel = _relative(words, today)
    if rel:
        return rel[0], DateValue(period=rel[1])
    dec = _decade(words)
    if dec:
        return dec[0], DateValue(period=dec[1])
    first = words[0]
    rng = _year_range(first)
    if rng:
        return 1, DateValue(period=rng)
    iso = _iso(first)
    if iso:
        return 1, DateValue(period=iso)
    year = _year(first)
    if year is not None:
        if len(words) >= 3 and words[1] in ("to", "until", "till", "-", "–", "and") and _year(words[2]):
            last = _year(words[2])
            assert last is not None
            if last > year:
                return 3, DateValue(period=Period(dt.date(year, 1, 1), dt.date(last, 12, 31)))
        return 1, DateValue(period=_year_period(year))
    # 14 July 2019 / 14th of July 2019
    day = _day(first)
    if day is not None and len(words) >= 2:
        k = 2 if words[1] == "of" and len(words) >= 3 else 1
        month = _month_of(words[k], allow_ambiguous=True)
        if month is not None and len(words) > k + 1 and _year(words[k + 1]):
            try:
                day_date = dt.date(int(words[k + 1]), month, day)
            except ValueError:
                return None
            return k + 2, DateValue(period=Period(day_date, day_date))
        return None
    # July 2019 / July 14, 2019 / June-August 2019 / June to August 2019 / July
    span = first.split("-") if "-" in first else None
    if span and len(span) == 2:
        a, b = _month_of(span[0], allow_ambiguous=True), _month_of(span[1], allow_ambiguous=True)
        if a is not None and b is not None:
            return _month_span(a, b, words, 1)
    month = _month_of(first, allow_ambiguous=True)
    if month is not None:
        rest = words[1:]
        if len(rest) >= 2 and rest[0] in ("to", "until", "till", "-", "and"):
            other = _month_of(rest[1], allow_ambiguous=True)
            if other is not None:
                return _month_span(month, other, words, 3)
        if rest and _year(rest[0]):
            return 2, DateValue(period=_month_period(int(rest[0]), month))
        comma = 1 if len(rest) >= 3 and rest[1] == "," else 0  # July 14, 2019
        if rest and _day(rest[0]) is not None and len(rest) >= 2 + comma and _year(rest[1 + comma]):
            try:
                day_date = dt.date(int(rest[1 + comma]), month, int(_day(rest[0]) or 0))
            except ValueError:
                return None
            return 3 + comma, DateValue(period=Period(day_date, day_date))
        if _month_of(first, allow_ambiguous=context) is not None:
            return 1, DateValue(months=(month,))
        return None
    season = _season_of(first, allow_ambiguous=True)
    if season is not None:
        if len(words) >= 2 and _year(words[1]):
            return 2, DateValue(period=_season_period(season, int(words[1])))
        if _season_of(first, allow_ambiguous=context) is not None:
            return 1, DateValue(months=SEASONS[season])
    return None


def _month_span(a: int, b: int, words: list[str], used: int) -> tuple[int, DateValue]:
    """June-August (every year), or June-August 2019 (November-February 2019 runs into 2020)."""
    months = tuple(((a - 1 + i) % 12) + 1 for i in range((b - a) % 12 + 1))
    if len(words) > used and _year(words[used]):
        year = int(words[used])
        end_year = year + (1 if b < a else 0)
        return used + 1, DateValue(period=Period(dt.date(year, a, 1), _month_end(end_year, b)))
    return used, DateValue(months=months)


def date_at(words: list[str], today: dt.date) -> tuple[int, DateValue] | None:
    """A date expression with its lead-in: 'in July', 'since 2019', 'between 2019 and 2021'."""
    if not words:
        return None
    lead = words[0]
    if lead == "between" and len(words) >= 4:
        a = _single_date(words[1:], today, context=True)
        if a and a[1].period and "and" in words[1 : 1 + a[0]]:  # 'between 2019 and 2021': one range already
            return a[0] + 1, a[1]
        if a and a[1].period and len(words) > a[0] + 1 and words[a[0] + 1] == "and":
            b = _single_date(words[a[0] + 2 :], today, context=True)
            if b and b[1].period and b[1].period.end >= a[1].period.start:
                return a[0] + b[0] + 2, DateValue(period=Period(a[1].period.start, b[1].period.end))
        return None
    bound = BOUND_LEADS.get(" ".join(words[:2])) and 2 or (1 if lead in BOUND_LEADS else 0)
    if bound:
        kind = BOUND_LEADS[" ".join(words[:bound])]
        found = _single_date(words[bound:], today, context=True)
        if found is None or found[1].period is None:
            return None
        p = found[1].period
        value = {
            "since": DateValue(since=p.start),
            "after": DateValue(since=p.end + dt.timedelta(days=1)),
            "before": DateValue(until=p.start - dt.timedelta(days=1)),
            "until": DateValue(until=p.end),
        }[kind]
        return bound + found[0], value
    if lead == "from" and len(words) >= 2:  # from 2019 to 2021, from June to August
        a = _single_date(words[1:], today, context=True)
        if a and len(words) > a[0] + 1 and words[a[0] + 1] in ("to", "until", "till"):
            b = _single_date(words[a[0] + 2 :], today, context=True)
            if a[1].period and b and b[1].period and b[1].period.end >= a[1].period.start:
                return a[0] + b[0] + 2, DateValue(period=Period(a[1].period.start, b[1].period.end))
    lead_words = 0
    while lead_words < len(words) and lead_words < 2 and words[lead_words] in DATE_LEADS:
        lead_words += 1
    if lead_words:
        found = _single_date(words[lead_words:], today, context=True)
        if found:
            return lead_words + found[0], found[1]
        return None
    return _single_date(words, today, context=False)


def describe_period(p: Period) -> str:
    if p.start == p.end:
        return p.start.isoformat()
    return f"{p.start.isoformat()} to {p.end.isoformat()}"
