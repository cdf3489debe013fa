"""Query understanding: a table of phrasings, what becomes a filter and what goes to CLIP."""

from __future__ import annotations

import datetime as dt

import pytest

from gallerfs.search.filters import Filters
from gallerfs.search.query_parse import PlaceName, Vocabulary, merge, parse

TODAY = dt.date(2026, 12, 1)  # a Tuesday


def _gazetteer(key: str) -> PlaceName | None:
    return {
        "paris": PlaceName("Paris", "city", "France", population=2_138_551),
        "box": PlaceName("Box", "city", "United Kingdom", population=2_500),
        "nice": PlaceName("Nice", "city", "France", population=342_669),
        "rome": PlaceName("Rome", "city", "Italy", population=2_318_895),
        "new york": PlaceName("New York City", "city", "United States", population=8_804_190),
        "kyoto": PlaceName("Kyoto", "city", "Japan", population=1_459_640),
        "grasmere": PlaceName("Grasmere", "city", "United Kingdom", population=1_200),
    }.get(key)


VOCAB = Vocabulary(
    places={
        "italy": PlaceName("Italy", "country", in_library=True),
        "spain": PlaceName("Spain", "country", in_library=True),
        "turkey": PlaceName("Turkey", "country"),
        "china": PlaceName("China", "country"),
        "united kingdom": PlaceName("United Kingdom", "country"),
        "uk": PlaceName("United Kingdom", "country"),
        "usa": PlaceName("United States", "country"),
        "united states": PlaceName("United States", "country"),
        "bosnia and herzegovina": PlaceName("Bosnia and Herzegovina", "country"),
        "tuscany": PlaceName("Tuscany", "region", "Italy", in_library=True),
        "arezzo": PlaceName("Arezzo", "city", "Italy", in_library=True),
        "madrid": PlaceName("Madrid", "region", "Spain", in_library=True),
        "colmenar viejo": PlaceName("Colmenar Viejo", "city", "Spain", in_library=True),
        "arhus": PlaceName("Århus", "city", "Denmark", in_library=True),
    },
    cameras={"nikon": "nikon", "coolpix p6000": "COOLPIX P6000", "iphone": "iPhone", "iphone 6": "iPhone 6",
             "apple": "apple", "canon": "canon", "pixel": "Pixel", "pixel 8 pro": "Pixel 8 Pro"},
    gazetteer=_gazetteer,
    max_camera_words=3,
)

# (query, expected filters (as a dict of the fields set), what goes to CLIP)
CASES: list[tuple[str, dict, str]] = [
    # the examples
    ("sunset in Italy, summer 2008", {"places": ("Italy",), "since": "2008-06-01", "until": "2008-08-31"}, "sunset"),
    ("taken with Nikon last July", {"camera": "nikon", "since": "2026-07-01", "until": "2026-07-31"}, ""),
    ("beach in Italy, summer 2008", {"places": ("Italy",), "since": "2008-06-01", "until": "2008-08-31"}, "beach"),
    # years, months, days, ranges
    ("2019", {"since": "2019-01-01", "until": "2019-12-31"}, ""),
    ("dogs 2019", {"since": "2019-01-01", "until": "2019-12-31"}, "dogs"),
    ("photos of dogs from 2019", {"since": "2019-01-01", "until": "2019-12-31"}, "dogs"),
    ("2019-2021", {"since": "2019-01-01", "until": "2021-12-31"}, ""),
    ("snow 2019–21", {"since": "2019-01-01", "until": "2021-12-31"}, "snow"),
    ("2019 to 2021", {"since": "2019-01-01", "until": "2021-12-31"}, ""),
    ("from 2019 to 2021 mountains", {"since": "2019-01-01", "until": "2021-12-31"}, "mountains"),
    ("between 2019 and 2021", {"since": "2019-01-01", "until": "2021-12-31"}, ""),
    ("between March 2019 and May 2019", {"since": "2019-03-01", "until": "2019-05-31"}, ""),
    ("2019-07", {"since": "2019-07-01", "until": "2019-07-31"}, ""),
    ("2019-07-14 fireworks", {"since": "2019-07-14", "until": "2019-07-14"}, "fireworks"),
    ("July 2019", {"since": "2019-07-01", "until": "2019-07-31"}, ""),
    ("in July 2019 at the lake", {"since": "2019-07-01", "until": "2019-07-31"}, "lake"),
    ("14 July 2019", {"since": "2019-07-14", "until": "2019-07-14"}, ""),
    ("14th of July 2019 parade", {"since": "2019-07-14", "until": "2019-07-14"}, "parade"),
    ("July 14, 2019", {"since": "2019-07-14", "until": "2019-07-14"}, ""),
    ("Jul 2019", {"since": "2019-07-01", "until": "2019-07-31"}, ""),
    ("June-August 2019", {"since": "2019-06-01", "until": "2019-08-31"}, ""),
    ("june to august 2019 hiking", {"since": "2019-06-01", "until": "2019-08-31"}, "hiking"),
    ("November-February 2019", {"since": "2019-11-01", "until": "2020-02-29"}, ""),
    ("skiing from December to February", {"months": (1, 2, 12)}, "skiing"),
    ("the 90s", {"since": "1990-01-01", "until": "1999-12-31"}, ""),
    ("1980s cars", {"since": "1980-01-01", "until": "1989-12-31"}, "cars"),
    ("since 2019", {"since": "2019-01-01"}, ""),
    ("after 2019", {"since": "2020-01-01"}, ""),
    ("before March 2020", {"until": "2020-02-29"}, ""),
    ("until 2015 beach", {"until": "2015-12-31"}, "beach"),
    # months and seasons without a year: every year
    ("July", {"months": (7,)}, ""),
    ("fireworks in July", {"months": (7,)}, "fireworks"),
    ("summer", {"months": (6, 7, 8)}, ""),
    ("winter mountains", {"months": (1, 2, 12)}, "mountains"),
    ("autumn leaves", {"months": (9, 10, 11)}, "leaves"),
    ("beach in summer", {"months": (6, 7, 8)}, "beach"),
    ("winter 2019", {"since": "2019-12-01", "until": "2020-02-29"}, ""),
    ("spring 2020 blossom", {"since": "2020-03-01", "until": "2020-05-31"}, "blossom"),
    # relative dates (today is 2026-12-01)
    ("last year", {"since": "2025-01-01", "until": "2025-12-31"}, ""),
    ("this year snow", {"since": "2026-01-01", "until": "2026-12-31"}, "snow"),
    ("last month", {"since": "2026-11-01", "until": "2026-11-30"}, ""),
    ("last week", {"since": "2026-11-23", "until": "2026-11-29"}, ""),
    ("yesterday", {"since": "2026-11-30", "until": "2026-11-30"}, ""),
    ("today", {"since": "2026-12-01", "until": "2026-12-01"}, ""),
    ("last December", {"since": "2025-12-01", "until": "2025-12-31"}, ""),
    ("last summer at the beach", {"since": "2026-06-01", "until": "2026-08-31"}, "beach"),
    ("last winter", {"since": "2025-12-01", "until": "2026-02-28"}, ""),
    ("last may", {"since": "2026-05-01", "until": "2026-05-31"}, ""),
    # places
    ("Italy", {"places": ("Italy",)}, ""),
    ("italy", {"places": ("Italy",)}, ""),
    ("Tuscany hills", {"places": ("Tuscany",)}, "hills"),
    ("Arezzo, Italy", {"places": ("Arezzo",)}, ""),
    ("Italy or Spain", {"places": ("Italy", "Spain")}, ""),
    ("cathedral in Aarhus", {}, "cathedral in Aarhus"),  # unknown spelling: not a place
    ("cathedral in Århus", {"places": ("Århus",)}, "cathedral"),
    ("photos from Turkey", {"places": ("Turkey",)}, ""),
    ("sunset in Paris", {"places": ("Paris",)}, "sunset"),
    ("sunset in paris", {"places": ("Paris",)}, "sunset"),
    ("walks near Grasmere", {}, "walks near Grasmere"),  # a small place the library has no photo of
    ("temples in new york", {"places": ("New York City",)}, "temples"),
    ("Bosnia and Herzegovina bridges", {"places": ("Bosnia and Herzegovina",)}, "bridges"),
    ("UK coast", {"places": ("United Kingdom",)}, "coast"),
    # cameras
    ("taken with a Nikon", {"camera": "nikon"}, ""),
    ("COOLPIX P6000", {"camera": "COOLPIX P6000"}, ""),
    ("iphone 6 sunset", {"camera": "iPhone 6"}, "sunset"),
    ("shot on apple", {"camera": "apple"}, ""),
    ("shot on Pixel 8 Pro at night", {"camera": "Pixel 8 Pro"}, "night"),
    # media type and favourites
    ("videos", {"kind": "video"}, ""),
    ("videos of cats", {"kind": "video"}, "cats"),
    ("raw files from 2010", {"kind": "raw", "since": "2010-01-01", "until": "2010-12-31"}, ""),
    ("favourites", {"favourites": True}, ""),
    ("my favorite beach photos", {"favourites": True}, "beach"),
    ("favourite videos in Spain last year",
     {"favourites": True, "kind": "video", "places": ("Spain",), "since": "2025-01-01", "until": "2025-12-31"}, ""),
    # what must NOT become a filter
    ("may flowers", {}, "may flowers"),
    ("march of the penguins", {}, "march of the penguins"),
    ("august sunlight", {}, "august sunlight"),
    ("spring water", {}, "spring water"),
    ("fall colours", {}, "fall colours"),
    ("turkey dinner", {}, "turkey dinner"),
    ("china plates", {}, "china plates"),
    ("cat in box", {}, "cat in box"),
    ("a walk in nice weather", {}, "walk in nice weather"),
    ("apple pie", {}, "apple pie"),
    ("pixel art", {}, "pixel art"),
    ("dog on the beach", {}, "dog on the beach"),
    ("red car", {}, "red car"),
    ("anything at all", {}, "anything at all"),
    ("101 dalmatians", {}, "101 dalmatians"),
    ("room 1200", {}, "room 1200"),
    ("jan and dean", {}, "jan and dean"),
    ("raw meat", {}, "raw meat"),
    ("mountains of 3000 m", {}, "mountains of 3000 m"),
    # words that describe no content are not sent to CLIP
    ("photos", {}, ""),
    ("pictures of sunsets", {}, "sunsets"),
    ("shots from the beach", {}, "beach"),
]


@pytest.mark.parametrize("query,expected,content", CASES, ids=[c[0] for c in CASES])
def test_phrasing(query: str, expected: dict, content: str):
    found = parse(query, VOCAB, TODAY)
    assert found.filters == Filters(**expected), found.explain()
    assert found.content == content, found.explain()


def test_the_table_is_large_and_has_negative_cases():
    assert len(CASES) >= 60
    assert sum(1 for _, expected, _ in CASES if not expected) >= 15


def test_parsing_is_deterministic_and_needs_no_library():
    for query, _, _ in CASES:
        assert parse(query, VOCAB, TODAY) == parse(query, VOCAB, TODAY)
    plain = parse("sunset in Italy, summer 2008", today=TODAY)  # no vocabulary: countries unknown
    assert plain.filters == Filters(since="2008-06-01", until="2008-08-31") and plain.content == "sunset in Italy"


def test_explain_says_what_each_part_means():
    line = parse("sunset in Italy, summer 2008", VOCAB, TODAY).explain()
    assert line == ("place \u201cin Italy\u201d = Italy (country); date \u201csummer 2008\u201d = 2008-06-01 to "
                    "2008-08-31; CLIP: \u201csunset\u201d")  # fmt: skip
    assert parse("Italy", VOCAB, TODAY).explain().endswith("no content words: newest first")
    assert "no photo of the library is there" in parse("in Paris", VOCAB, TODAY).explain()


def test_last_month_names_depend_on_today():
    assert parse("last July", VOCAB, dt.date(2026, 7, 15)).filters.since == "2025-07-01"
    assert parse("last July", VOCAB, dt.date(2026, 8, 1)).filters.since == "2026-07-01"
    assert parse("last summer", VOCAB, dt.date(2026, 7, 15)).filters.since == "2025-06-01"
    assert parse("this winter", VOCAB, dt.date(2027, 1, 10)).filters.since == "2026-12-01"


def test_options_win_over_the_query_words():
    parsed = parse("Italy 2019", VOCAB, TODAY).filters
    merged = merge(parsed, Filters(since="2019-06", camera="canon"))
    assert (merged.since, merged.until, merged.camera, merged.places) == ("2019-06", "2019-12-31", "canon", ("Italy",))
