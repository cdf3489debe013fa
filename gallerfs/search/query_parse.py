"""Plain-English query understanding: the words about time, place, camera, media type and favourites
become filters; the rest is what CLIP looks for.

``parse(text, vocabulary, today)`` is pure and deterministic (``today`` is given, never read here).
Words are read left to right; at each word the recognisers below are tried in this order, each
taking as many words as it can (an optional lead-in such as *in*, *from*, *during*, *taken with a*
goes with what follows it):

- **dates**: ``2019``, ``2019-07``, ``2019-07-14``, ``2019-2021``, ``2019 to 2021``, ``between 2019
  and 2021``, ``July 2019``, ``14 July 2019``, ``July 14, 2019``, ``June-August 2019``, ``summer
  2008`` (winter 2008 is December 2008 to February 2009), ``the 90s``, ``1990s``, ``last year``,
  ``this year``, ``last month``, ``last week``, ``yesterday``, ``today``, ``last July`` (the latest
  July before this month), ``last summer``, ``since 2019``, ``before 2019``, ``after July 2019``.
  A month or season without a year (``July``, ``summer``) matches that month every year; a
  four-digit number from 1900 to 2099 is a year, other numbers stay words.
- **places**: countries (their English names and a few common aliases: ``USA``, ``UK``, ``Holland``),
  and every region and city the library's photos were placed in; other GeoNames regions and cities
  of 100,000 people or more only after *in*, *at*, *near*, *from* or *around* (*sunset in Paris*;
  the filter then finds nothing, and ``--explain`` says no photo of the library is there).
- **cameras**: makes and models present in the library (``Nikon``, ``iPhone``, ``COOLPIX P6000``).
- **media type**: ``videos``, ``movies``, ``footage``; ``raw files``, ``raws``.
- **favourites**: ``favourites``, ``favorites``, ``faves``, ``starred``.

Ambiguous words are filters only in a context that makes them one, and otherwise go to CLIP:
the months *may*, *march* and *august*, the seasons *spring* and *fall*, and month abbreviations
need a year, a day, a range, *last*/*this*, or a lead-in (*in may*, *since march*), so *may
flowers* is a CLIP query; place names that are everyday words (*turkey*, *china*, *nice*,
*reading*, ...) need a lead-in and a capital letter (*from Turkey*); camera makes that are
everyday words (*apple*, *google*) need a lead-in such as *with*, *on*, *by* or *using*.

Words that describe no content (*photos*, *pictures*, *shots*, *taken*, ...) are dropped, and
connecting words left at either end of the remainder (*in*, *from*, *with a*, ...) too.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field, fields, replace
from typing import Callable

from gallerfs.search.filters import Filters
from gallerfs.search.query_dates import DateValue, Period, date_at, describe_period

PLACE_LEADS = {"in", "at", "near", "from", "around", "taken", "shot", "of"}
CAMERA_LEADS = {"with", "by", "on", "using", "taken", "shot"}
ARTICLES = {"a", "an", "the", "my"}
STOP_WORDS = {"photo", "photos", "picture", "pictures", "pic", "pics", "image", "images", "shot", "shots",
              "snapshot", "snapshots", "taken", "me", "show"}  # fmt: skip
EDGE_WORDS = {"in", "at", "on", "of", "from", "with", "by", "and", "or", "the", "a", "an", "during", "near",
              "around", "using", "my", "taken", "shot", ",", ";", "-"}  # fmt: skip
VIDEO_WORDS = {"video", "videos", "movie", "movies", "footage"}
RAW_PHRASES = {("raws",), ("raw", "files"), ("raw", "photos"), ("raw", "images"), ("raw", "file")}
FAVOURITE_WORDS = {"favourite", "favourites", "favorite", "favorites", "fave", "faves", "starred"}
# Place names that are also everyday English words: places only as 'in Turkey', 'from Nice'.
EVERYDAY_PLACE_WORDS = {
    "chad", "turkey", "china", "jersey", "georgia", "jordan", "guinea", "guernsey", "panama", "nice", "bath",
    "reading", "split", "mobile", "orange", "sale", "van", "cork", "nancy", "marathon", "paradise", "hope",
    "eagle", "victoria", "florence", "male", "central", "north", "south", "east", "west", "centre", "center",
    "union", "best", "most", "sunset", "beach", "river", "lake", "park", "mountain", "valley", "forest",
    "garden", "bay", "harbour", "harbor", "port", "island", "islands", "city", "town", "village", "home",
    "box", "bed", "rain", "snow", "sun", "sea", "ocean", "coast", "church", "bridge", "castle", "temple",
    "spring", "summer", "winter", "autumn", "fall", "may", "march", "august", "dog", "cat", "horse", "bear",
    "wolf", "fox", "deer", "rose", "lily", "daisy", "holly", "ivy", "golden", "green", "red", "white",
    "black", "blue", "silver", "long", "grand", "little", "big", "new", "old", "saint", "st", "mount",
}  # fmt: skip
EVERYDAY_CAMERA_WORDS = {"apple", "google", "pixel", "sharp", "red", "leaf", "phase", "one", "max", "pro", "mobile",
                         "honor", "note", "hero", "camera", "digital", "zoom", "galaxy", "blackberry"}  # fmt: skip
GENERIC_MAKE_WORDS = {"corporation", "corp", "company", "co", "ltd", "inc", "electronics", "imaging", "optical",
                      "digital", "camera", "cameras", "eastman", "mobile", "technology", "technologies", "group",
                      "international", "photo", "the", "and", "europe", "america", "usa", "japan"}  # fmt: skip
COUNTRY_ALIASES = {
    "usa": "United States", "u.s.a.": "United States", "u.s.": "United States", "united states of america":
    "United States", "america": "United States", "the states": "United States", "uk": "United Kingdom",
    "u.k.": "United Kingdom", "great britain": "United Kingdom", "britain": "United Kingdom",
    "holland": "Netherlands", "the netherlands": "Netherlands", "czech republic": "Czechia",
    "korea": "South Korea", "burma": "Myanmar", "ivory coast": "Côte d'Ivoire", "swaziland": "Eswatini",
    "macedonia": "North Macedonia", "vatican city": "Vatican", "east timor": "Timor-Leste",
    "cape verde": "Cabo Verde", "drc": "Democratic Republic of the Congo", "uae": "United Arab Emirates",
}  # fmt: skip
BIG_PLACE = 100_000  # GeoNames places outside the library count (after a lead-in) from this size
MAX_PLACE_WORDS = 6


def fold(text: str) -> str:
    """The form names are compared in: case and accents folded, curly apostrophes straightened."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'")).casefold()
    return "".join(c for c in text if not unicodedata.combining(c))


@dataclass(frozen=True)
class PlaceName:
    name: str  # as the library (or GeoNames) spells it: the filter value
    level: str  # country, region or city
    country: str | None = None  # for regions and cities
    in_library: bool = False
    population: int = 0


@dataclass(frozen=True)
class Vocabulary:
    """What the parser can recognise besides dates: built from the library (``query_vocab``)."""

    places: dict[str, PlaceName] = field(default_factory=dict)  # folded name -> place
    cameras: dict[str, str] = field(default_factory=dict)  # folded phrase -> camera filter text
    gazetteer: Callable[[str], PlaceName | None] | None = None  # folded name -> any GeoNames place
    max_camera_words: int = 1


@dataclass(frozen=True)
class Part:
    kind: str  # date, place, camera, kind, favourites
    words: str  # the words of the query it came from
    meaning: str  # what it was understood as, for --explain


@dataclass(frozen=True)
class Interpretation:
    query: str
    filters: Filters
    content: str  # what CLIP is asked; '' when nothing is left
    parts: tuple[Part, ...]
    dropped: tuple[str, ...] = ()  # words that describe no content

    @property
    def understood(self) -> bool:
        return bool(self.parts)

    def explain(self) -> str:
        """One line: what each recognised part means, then what goes to CLIP."""
        items = [f"{p.kind} \u201c{p.words}\u201d = {p.meaning}" for p in self.parts]
        items.append(f"CLIP: \u201c{self.content}\u201d" if self.content else "no content words: newest first")
        return "; ".join(items)


@dataclass(frozen=True)
class _Token:
    text: str  # as typed
    folded: str
    capitalised: bool


_TOKEN = re.compile(r"[,;]|[^\s,;!?()\"“”]+")


def _tokens(text: str) -> list[_Token]:
    out = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        word = raw if raw in (",", ";") else raw.rstrip(".:") if not re.fullmatch(r"(?:\w\.)+", raw) else raw
        if not word:
            continue
        out.append(_Token(word, fold(word), word[:1].isupper()))
    return out


# -- places and cameras ----------------------------------------------------------------------------
def _place_at(tokens: list[_Token], vocab: Vocabulary, *, after_lead: bool) -> tuple[int, PlaceName] | None:
    """The longest place name at the start of ``tokens``, by the rules of the module docstring."""
    for n in range(min(MAX_PLACE_WORDS, len(tokens)), 0, -1):
        words = tokens[:n]
        if any(t.text in (",", ";") for t in words):
            continue
        key = " ".join(t.folded for t in words)
        capitalised = all(t.capitalised for t in words if t.folded not in ("of", "and", "the", "de", "la"))
        place = vocab.places.get(key)
        if place is None and after_lead and vocab.gazetteer is not None and key not in EVERYDAY_PLACE_WORDS:
            place = vocab.gazetteer(key)
            if place is not None and place.population < BIG_PLACE:
                place = None
        if place is None:
            continue
        everyday = n == 1 and (key in EVERYDAY_PLACE_WORDS or (len(key) < 4 and place.level != "country"))
        if everyday and not (after_lead and capitalised):
            continue
        return n, place
    return None


def _camera_at(tokens: list[_Token], vocab: Vocabulary, *, after_lead: bool) -> tuple[int, str] | None:
    for n in range(min(vocab.max_camera_words, len(tokens)), 0, -1):
        key = " ".join(t.folded for t in tokens[:n])
        camera = vocab.cameras.get(key)
        if camera is not None and (after_lead or n > 1 or key not in EVERYDAY_CAMERA_WORDS):
            return n, camera
    return None


# -- the parser ------------------------------------------------------------------------------------
@dataclass
class _Found:
    periods: list[Period] = field(default_factory=list)
    months: set[int] = field(default_factory=set)
    since: dt.date | None = None
    until: dt.date | None = None
    places: list[PlaceName] = field(default_factory=list)
    camera: str | None = None
    kind: str | None = None
    favourites: bool = False


def _with_lead(tokens: list[_Token], i: int, leads: set[str]) -> int:
    """How many lead-in words start at i ('in', 'taken in the', 'with a'); 0 if none."""
    j = i
    if j < len(tokens) and tokens[j].folded in ("taken", "shot"):
        j += 1
    if j < len(tokens) and tokens[j].folded in leads - {"taken", "shot"}:
        j += 1
    if j == i:
        return 0
    if j < len(tokens) and tokens[j].folded in ARTICLES:
        j += 1
    return j - i


def parse(text: str, vocab: Vocabulary | None = None, today: dt.date | None = None) -> Interpretation:
    """Split a query into filters and a CLIP remainder (see the module docstring for the rules)."""
    vocab = vocab or Vocabulary()
    today = today or dt.date.today()
    tokens = _tokens(text)
    found = _Found()
    parts: list[Part] = []
    content: list[_Token] = []
    dropped: list[str] = []
    folded = [t.folded for t in tokens]
    i = 0
    while i < len(tokens):
        # dates, with their own lead-ins (in, during, since, between, from ... to ...)
        date = date_at(folded[i:], today)
        if date is not None:
            n, value = date
            words = " ".join(t.text for t in tokens[i : i + n])
            parts.append(Part("date", words, _record_date(found, value)))
            i += n
            continue
        lead = _with_lead(tokens, i, PLACE_LEADS)
        place = _place_at(tokens[i + lead :], vocab, after_lead=lead > 0)
        if place is not None:
            n, value_place = place
            words = " ".join(t.text for t in tokens[i : i + lead + n])
            found.places.append(value_place)
            where = value_place.level + (f" in {value_place.country}" if value_place.country else "")
            if not value_place.in_library:
                where += ", no photo of the library is there"
            parts.append(Part("place", words, f"{value_place.name} ({where})"))
            i += lead + n
            continue
        lead = _with_lead(tokens, i, CAMERA_LEADS)
        camera = _camera_at(tokens[i + lead :], vocab, after_lead=lead > 0)
        if camera is not None:
            n, value_camera = camera
            words = " ".join(t.text for t in tokens[i : i + lead + n])
            if found.camera is None:
                found.camera = value_camera
                parts.append(Part("camera", words, f"make or model contains {value_camera!r}"))
            i += lead + n
            continue
        word = folded[i]
        if word in VIDEO_WORDS:
            found.kind = "video"
            parts.append(Part("kind", tokens[i].text, "videos"))
            i += 1
            continue
        raw = next((p for p in RAW_PHRASES if tuple(folded[i : i + len(p)]) == p), None)
        if raw is not None:
            found.kind = "raw"
            parts.append(Part("kind", " ".join(t.text for t in tokens[i : i + len(raw)]), "RAW files"))
            i += len(raw)
            continue
        if word in FAVOURITE_WORDS:
            found.favourites = True
            parts.append(Part("favourites", tokens[i].text, "favourites only"))
            i += 1
            continue
        if word in STOP_WORDS:
            dropped.append(tokens[i].text)
            i += 1
            continue
        content.append(tokens[i])
        i += 1
    remainder = _trim(content)
    return Interpretation(text, _filters(found), remainder, tuple(parts), tuple(dropped))


def _record_date(found: _Found, value: DateValue) -> str:
    if value.period is not None:
        found.periods.append(value.period)
        return describe_period(value.period)
    if value.months:
        found.months.update(value.months)
        return "every " + ", ".join(calendar.month_name[m] for m in value.months)
    if value.since is not None:
        found.since = max(found.since, value.since) if found.since else value.since
        return f"on or after {value.since.isoformat()}"
    assert value.until is not None
    found.until = min(found.until, value.until) if found.until else value.until
    return f"on or before {value.until.isoformat()}"


def _trim(tokens: list[_Token]) -> str:
    words = [t.text for t in tokens]
    while words and fold(words[0]) in EDGE_WORDS:
        words.pop(0)
    while words and fold(words[-1]) in EDGE_WORDS:
        words.pop()
    text = " ".join(words).replace(" ,", ",").replace(" ;", ";")
    return text.strip(" ,;")


def _most_specific(places: list[PlaceName]) -> tuple[str, ...]:
    """The place filter: every place named, less those that only contain another one named
    ('Arezzo, Italy' is Arezzo)."""
    names = []
    for p in places:
        inner = any(q is not p and q.level != "country" and q.country == p.name for q in places)
        inner = inner or any(q is not p and q.level == "city" and p.level == "region" and q.country == p.country
                             for q in places)  # fmt: skip
        if not inner and p.name not in names:
            names.append(p.name)
    return tuple(names)


def _filters(found: _Found) -> Filters:
    since = found.since
    until = found.until
    if found.periods:
        start = min(p.start for p in found.periods)
        end = max(p.end for p in found.periods)
        since = max(since, start) if since else start
        until = min(until, end) if until else end
    return Filters(
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        camera=found.camera,
        favourites=found.favourites,
        kind=found.kind,
        places=_most_specific(found.places),
        months=tuple(sorted(found.months)),
    )


def merge(parsed: Filters, explicit: Filters) -> Filters:
    """The filters of a query with those given as options: an option wins over the query's words."""
    out = parsed
    for f in fields(explicit):
        value = getattr(explicit, f.name)
        if value != f.default:  # given (e.g. online=False, "only offline", is given; None is not)
            out = replace(out, **{f.name: value})
    return out
