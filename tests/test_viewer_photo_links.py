"""The photo page's links to other photos: journal entries that mention it, and its duplicates
(exact copies by content hash; near ones from the duplicate finder's remembered pixel verdicts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gallerfs.db import duplicates as dup_db
from gallerfs.db import journal as journal_db
from gallerfs.db.connection import Database
from gallerfs.indexer.duplicates.look import RULE
from tests.mountutil import build_library
from tests.viewer_support import HOST, make_app


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_library(tmp_path_factory.mktemp("photo-links"))[0]


def ids_by_relpath(library: Path) -> dict[str, int]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return {bytes(r[1]).decode("utf-8", "replace"): int(r[0]) for r in db.tuples("SELECT id, relpath FROM files")}


def section(library: Path, file_id: int, name: str) -> str:
    r = make_app(library).test_client().get(f"/photo/{file_id}", headers=HOST)
    assert r.status_code == 200
    m = re.search(rf'<section class="links" id="{name}">(.*?)</section>', r.get_data(as_text=True), re.S)
    assert m, name
    return m[1]


def linked_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/photo/(\d+)"', html)]


def test_exact_copies_link_to_each_other(library: Path) -> None:
    ids = ids_by_relpath(library)
    a, b = ids["cams/Canon_40D.jpg"], ids["trip/a/IMG_0001.jpg"]
    html = section(library, a, "duplicates")
    assert "Exact copies" in html and linked_ids(html) == [b]
    assert "trip/a/IMG_0001.jpg" in html
    assert linked_ids(section(library, b, "duplicates")) == [a]
    # Same name and date, different bytes: not a copy.
    other = section(library, ids["trip/b/IMG_0001.jpg"], "duplicates")
    assert linked_ids(other) == [] and "No known copy" in other


def test_near_duplicates_come_from_current_verdicts(library: Path) -> None:
    ids = ids_by_relpath(library)
    a, b, c = ids["cams/Pentax_K10D.jpg"], ids["cams/Canon_PowerShot_S40.jpg"], ids["trip/b/IMG_0001.jpg"]
    with Database(library / "library.sqlite3") as db:
        files = dup_db.files_by_ids(db, [a, b, c])

        def stamp(x: int, y: int) -> str:
            lo, hi = sorted((x, y))
            return f"{files[lo].size}:{files[lo].mtime_ns}:{files[hi].size}:{files[hi].mtime_ns}"

        lo_ab, hi_ab = sorted((a, b))
        lo_ac, hi_ac = sorted((a, c))
        lo_bc, hi_bc = sorted((b, c))
        dup_db.store_verdicts(db, [
            (lo_ab, hi_ab, stamp(a, b), RULE, True),   # the same picture: shown
            (lo_ac, hi_ac, "1:2:3:4", RULE, True),     # a file changed since: not shown
            (lo_bc, hi_bc, stamp(b, c), RULE, False),  # different pictures: not shown
        ])  # fmt: skip
    html = section(library, a, "duplicates")
    assert "Near duplicates" in html and "Exact copies" not in html
    assert linked_ids(html) == [b]
    assert linked_ids(section(library, b, "duplicates")) == [a]
    assert linked_ids(section(library, c, "duplicates")) == []
    with Database(library / "library.sqlite3") as db:  # a verdict of an older pixel rule is not trusted
        dup_db.store_verdicts(db, [(lo_ab, hi_ab, stamp(a, b), RULE - 1, True)])
    assert linked_ids(section(library, a, "duplicates")) == []


def test_journal_entries_that_mention_the_photo(library: Path) -> None:
    ids = ids_by_relpath(library)
    a, b, c = ids["cams/Kodak_CX7530.jpg"], ids["videos/clip.mp4"], ids["odd/undated.jpg"]
    assert "No journal entry mentions this photo" in section(library, a, "journal")
    with Database(library / "library.sqlite3") as db:
        journal_db.record_entry(db, relpath=b"2024/2024-07-14.md", name="2024-07-14", period="2024-07-14",
                                period_start="2024-07-14", period_end="2024-07-14", mtime_ns=1, size=10,
                                file_ids=[b, a, c])  # fmt: skip
        journal_db.record_entry(db, relpath=b"notes/trip.md", name="trip", period=None, period_start=None,
                                period_end=None, mtime_ns=1, size=10, file_ids=[a])  # fmt: skip
    html = section(library, a, "journal")
    assert html.index("2024-07-14") < html.index("trip")  # dated entries first, as 'gallerfs journal' lists
    assert "notes/trip.md" in html
    assert linked_ids(html) == [b, c]  # the other photos of the entry, in its order; never itself
    assert linked_ids(section(library, c, "journal")) == [b, a]
    assert "No journal entry" in section(library, ids["cams/Canon_40D.jpg"], "journal")
