"""The duplicate review and the journal in real headless Chromium (the conventions of test_viewer_browser:
Debian's /usr/bin/chromium, no request may leave 127.0.0.1, no console error): the review answers its keys,
trashes through the safe path (the file lands in the trash, the index forgets it, the last copy stays) and
undo restores it; a journal entry made in the viewer is byte-identical to the CLI's for the same day.
Screenshots are saved in the test's tmp dir."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from tests.conftest import run_gallerfs
from tests.review_support import build_review_library
from tests.browser_fixtures import CHROMIUM
from tests.viewer_support import LiveServer

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (scripts/setup installs it)"),
    pytest.mark.timeout(240),
]


def _ids(library: Path) -> dict[str, int]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return {r[1].decode(): int(r[0]) for r in db.tuples("SELECT id, relpath FROM files")}


def _chosen(page) -> str:
    return page.locator(".copy.chosen").get_attribute("data-name")


def test_the_review_answers_its_keys_trashes_safely_and_undoes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser_page  # noqa: F811
) -> None:
    page, problems, outside = browser_page
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    library, photos = build_review_library(tmp_path)
    ids = _ids(library)
    trash = tmp_path / "xdg" / "Trash"
    with LiveServer(library) as server:
        page.goto(server.url + "/")
        with page.expect_navigation():
            page.click("nav >> text=Duplicates")
        page.wait_for_function("() => [...document.querySelectorAll('.copy-preview')].every(i => i.complete && i.naturalWidth > 0)")
        assert "Set 1 of 2" in page.locator("#set-head").inner_text()
        assert page.locator("#shortcuts").is_visible() and "undo the last trash" in page.locator("#shortcuts").inner_text()
        assert page.locator(".copy").count() == 2 and _chosen(page) == "rocks.jpg"
        page.screenshot(path=str(tmp_path / "review-exact.png"))

        # → and ← step between the sets; s skips to the next one.
        with page.expect_navigation():
            page.keyboard.press("ArrowRight")
        assert "Set 2 of 2" in page.locator("#set-head").inner_text() and "near duplicates" in page.content()
        page.screenshot(path=str(tmp_path / "review-near.png"))
        page.keyboard.press("n")  # the last set: says so, stays
        assert "last set" in page.locator("#confirm").inner_text()
        with page.expect_navigation():
            page.keyboard.press("p")
        assert "Set 1 of 2" in page.locator("#set-head").inner_text()
        with page.expect_navigation():
            page.keyboard.press("s")
        assert "Set 2 of 2" in page.locator("#set-head").inner_text()

        # Near set: keeping the smaller WebP would trash the only full-resolution copy: refused, shown.
        page.keyboard.press("2")
        assert _chosen(page) == "flower.webp"
        page.keyboard.press("t")
        assert "Press y to confirm" in page.locator("#confirm").inner_text()
        with page.expect_navigation():
            page.keyboard.press("y")
        assert "only full-resolution copy" in page.locator("#note").inner_text()
        assert (photos / "trip" / "flower.jpg").exists() and not trash.exists()
        page.screenshot(path=str(tmp_path / "review-refused.png"))

        # Exact set: 2 chooses the backup copy, Enter keeps it (it moves to the front), t then another key cancels.
        with page.expect_navigation():
            page.keyboard.press("ArrowLeft")
        page.keyboard.press("2")
        assert _chosen(page) == "rocks copy.jpg"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert "keeper: " in page.locator("#note").inner_text()
        assert page.locator(".copy").first.get_attribute("data-name") == "rocks copy.jpg"
        page.keyboard.press("ArrowDown")  # back to trip/rocks.jpg as the keeper
        assert _chosen(page) == "rocks.jpg"
        page.keyboard.press("t")
        page.keyboard.press("x")
        assert page.locator("#confirm").inner_text() == "not trashed"
        page.keyboard.press("t")
        page.screenshot(path=str(tmp_path / "review-confirm.png"))
        with page.expect_navigation():
            page.keyboard.press("y")
        assert "to the trash" in page.locator("#note").inner_text()
        assert page.locator("#undo-form").is_visible()
        trashed = trash / "files" / "rocks copy.jpg"
        assert trashed.is_file() and not (photos / "backup" / "rocks copy.jpg").exists()
        assert (photos / "trip" / "rocks.jpg").is_file()  # the last copy stays
        with Database(library / "library.sqlite3", readonly=True) as db:
            assert dupdb.file_info(db, ids["backup/rocks copy.jpg"]) is None
            assert dupdb.file_info(db, ids["trip/rocks.jpg"]) is not None
        assert "Set 1 of 1" in page.locator("#set-head").inner_text()  # the exact set is resolved
        assert page.locator("#trashed tbody tr").count() == 1
        page.screenshot(path=str(tmp_path / "review-trashed.png"))

        # u puts it back from the trash, with its id; the set is there again.
        with page.expect_navigation():
            page.keyboard.press("u")
        assert "restored" in page.locator("#note").inner_text()
        assert (photos / "backup" / "rocks copy.jpg").is_file() and not trashed.exists()
        assert _ids(library)["backup/rocks copy.jpg"] == ids["backup/rocks copy.jpg"]
        assert "Set 1 of 2" in page.locator("#set-head").inner_text() and page.locator(".copy").count() == 2
        assert page.locator("#undo-form").count() == 0
        page.screenshot(path=str(tmp_path / "review-undone.png"))
        page.goto("about:blank")
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"


def test_a_journal_entry_made_in_the_viewer_is_the_clis(tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, problems, outside = browser_page
    library, _ = build_review_library(tmp_path)
    ids = _ids(library)
    with LiveServer(library) as server:
        page.goto(server.url + "/")
        with page.expect_navigation():
            page.click("nav >> text=Journal")
        assert "No journal yet" in page.locator("#journal-empty").inner_text()
        page.screenshot(path=str(tmp_path / "journal-empty.png"))

        today = dt.date.today().isoformat()
        with page.expect_navigation():
            page.click("#new-today")
        assert page.url.endswith(f"/journal/{today}")
        made = (library / "journal" / f"{today}.md").read_bytes()
        (library / "journal" / f"{today}.md").unlink()
        run_gallerfs(library, "journal", "new", "today")
        assert (library / "journal" / f"{today}.md").read_bytes() == made

        # A day with photos: the calendar marks it, its page creates the entry, which shows the photos.
        page.goto(server.url + "/journal?month=2012-08")
        day = page.locator("td[data-day='2012-08-05']")
        assert "2 photos" in day.inner_text()
        page.screenshot(path=str(tmp_path / "journal-calendar.png"))
        with page.expect_navigation():
            day.locator("a").click()
        assert "No entry for this day yet" in page.locator("#no-entry").inner_text()
        with page.expect_navigation():
            page.click("#create-entry")
        page.wait_for_function("() => { const i = [...document.querySelectorAll('#entry-body img.entry-photo')]; "
                               "return i.length === 2 && i.every(x => x.complete && x.naturalWidth > 0); }")  # fmt: skip
        assert "Sunday 5 August 2012" in page.locator("#entry-body h1").inner_text()
        page.screenshot(path=str(tmp_path / "journal-entry.png"), full_page=True)
        viewer_bytes = (library / "journal" / "2012-08-05.md").read_bytes()
        (library / "journal" / "2012-08-05.md").unlink()
        run_gallerfs(library, "journal", "new", "2012-08-05")
        assert (library / "journal" / "2012-08-05.md").read_bytes() == viewer_bytes

        # Its photos link back to the entry from their photo page.
        with page.expect_navigation():
            page.locator(f"#entry-body a[href='/photo/{ids['trip/rocks.jpg']}']").click()
        link = page.locator("#journal a[href='/journal/2012-08-05']")
        assert link.count() == 1
        page.goto(server.url + "/journal?month=2012-08")
        assert re.search("entry", page.locator("td[data-day='2012-08-05']").inner_text())
        page.goto("about:blank")
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"
