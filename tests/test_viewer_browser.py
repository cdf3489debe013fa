"""The viewer in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is
downloaded): the grid shows thumbnails, keyboard opens a photo, the jobs page follows its event stream, the
sources page adds a folder and rescans it, a 100,000-file grid keeps only what is on screen in the page; no
console error, no request leaves 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser_fixtures import CHROMIUM
from tests.mountutil import build_library
from tests.viewer_support import LiveServer, build_large_library


pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup installs it)"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library, _ = build_library(tmp_path_factory.mktemp("viewer-browser"))
    return library


def test_grid_shows_thumbnails_and_the_photo_page_opens(corpus_library: Path, tmp_path: Path, browser_page) -> None:
    page, problems, outside = browser_page
    with LiveServer(corpus_library) as server:
        page.goto(server.url + "/")
        page.wait_for_selector("#grid .tile img")
        page.wait_for_function(
            "() => [...document.querySelectorAll('#grid .tile img')].filter(i => i.complete && i.naturalWidth > 0)"
            ".length >= 8"
        )
        tiles = page.locator("#grid .tile").count()
        assert tiles == int(page.get_attribute("#grid", "data-total"))
        page.screenshot(path=str(tmp_path / "grid.png"))

        # ? lists the shortcuts; Escape closes the list without leaving the page.
        page.keyboard.press("?")
        assert page.locator("dialog#help").is_visible()
        page.screenshot(path=str(tmp_path / "help.png"))
        page.keyboard.press("Escape")
        assert not page.locator("dialog#help").is_visible()

        # Keyboard: the first tile is selected; move right, Enter opens that photo.
        second_id = page.locator("#grid .tile[data-index='1']").get_attribute("data-id")
        page.keyboard.press("ArrowRight")
        assert page.locator("#grid .tile.selected").get_attribute("data-id") == second_id
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/photo/{second_id}")
        page.wait_for_function("() => { const i = document.querySelector('.preview'); return i && "
                               "(i.tagName === 'VIDEO' || (i.complete && i.naturalWidth > 0)); }")  # fmt: skip
        assert page.locator(".exif dt").count() >= 3
        page.screenshot(path=str(tmp_path / "photo.png"))

        # f toggles the favourite through the CSRF-protected POST and comes back to the same photo.
        with page.expect_navigation():
            page.keyboard.press("f")
        assert page.url.endswith(f"/photo/{second_id}")
        assert page.locator("button.fav.on").count() == 1

        # On the search page, / puts the cursor in the query box (elsewhere it opens the palette).
        page.goto(server.url + "/search?kind=image")
        page.evaluate("document.activeElement.blur()")  # the box has autofocus
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.name") == "q"
        assert page.input_value("input[name=q]") == ""  # the key moved the cursor, it typed nothing

        # Search without a CLIP model: says how to install one, and the filters still apply.
        page.goto(server.url + "/search?q=dog&kind=image")
        assert "gallerfs models install" in page.locator(".notice").inner_text()
        thumbnails_shown(page, 8)
        page.screenshot(path=str(tmp_path / "search.png"))
        # Save the filtered view as an album, from the grid's form (CSRF token from the page).
        page.goto(server.url + "/?kind=video")
        page.fill(".save-view input[name=new_name]", "Browser clips")
        with page.expect_navigation():
            page.click(".save-view button")
        assert page.url.endswith("/?album=Browser+clips")
        page.wait_for_selector("#grid .tile")
        assert page.locator("#grid .tile").count() == 1
        page.goto(server.url + "/albums")
        assert "Browser clips" in page.locator("table").inner_text()
        page.screenshot(path=str(tmp_path / "albums.png"))
        page.once("dialog", lambda dialog: dialog.accept())  # the delete button asks first
        with page.expect_navigation():
            page.click("button.danger")
        assert "No album yet" in page.content()
        page.goto(server.url + "/sources")
        assert page.locator("tbody tr").count() == 1
        page.screenshot(path=str(tmp_path / "sources.png"))

        # The jobs page follows the server's event stream.
        page.goto(server.url + "/jobs")
        page.wait_for_function("() => document.getElementById('live').textContent.startsWith('Live:')")
        # the index's scan, process and places jobs (the suite leaves analysis jobs out: GALLERFS_ANALYSIS)
        assert page.locator("#jobs tbody tr").count() == 3
        page.screenshot(path=str(tmp_path / "jobs.png"))
        page.goto("about:blank")  # closes the event stream before the server stops
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"


def test_the_palette_goes_runs_and_searches_from_the_keyboard(corpus_library: Path, tmp_path: Path,
                                                              browser_page) -> None:  # fmt: skip
    page, problems, outside = browser_page
    palette = page.locator("dialog#palette")
    with LiveServer(corpus_library) as server:
        page.goto(server.url + "/?kind=image")
        page.wait_for_selector("#grid .tile")
        # Ctrl+K opens it with the cursor in its box; a description and Enter search, keeping the filters.
        page.keyboard.press("Control+k")
        assert palette.is_visible() and page.evaluate("document.activeElement.id") == "palette-input"
        page.keyboard.type("dog on the beach")
        assert page.locator("#palette li[aria-selected=true]").inner_text().endswith("“dog on the beach”")
        page.screenshot(path=str(tmp_path / "palette-search.png"))
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/search?kind=image&q=dog%20on%20the%20beach")
        assert page.input_value("input[name=q]") == "dog on the beach"

        # / opens it too; Esc closes it and leaves the page as it was.
        page.goto(server.url + "/")
        page.wait_for_selector("#grid .tile")
        page.keyboard.press("/")
        assert palette.is_visible()
        page.screenshot(path=str(tmp_path / "palette.png"))
        page.keyboard.press("Escape")
        assert not palette.is_visible() and page.url == server.url + "/"
        # Arrows choose: the fourth entry is Search.
        page.keyboard.press("Control+k")
        for _ in range(3):
            page.keyboard.press("ArrowDown")
        assert page.locator("#palette li[aria-selected=true]").inner_text().endswith("Search")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == server.url + "/search"
        # Typing narrows the list to the entries whose words it starts.
        page.keyboard.press("Control+k")
        page.keyboard.type("alb")
        assert page.locator("#palette li[aria-selected=true]").inner_text().endswith("Albums")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == server.url + "/albums"
        # Page-bound actions are offered only where they apply.
        page.keyboard.press("Control+k")
        page.keyboard.type("save")
        assert not page.locator("#palette li", has_text="Save this view").is_visible()
        page.keyboard.press("Escape")
        # Each source (and album) is a view to jump to.
        page.keyboard.press("Control+k")
        page.keyboard.type("photos")
        assert page.locator("#palette li[aria-selected=true]").inner_text() == "Source photos"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == server.url + "/?source=photos"

        # Save the current view as a new album: the palette asks for the name, then posts the form.
        page.goto(server.url + "/?kind=video")
        page.wait_for_selector("#grid .tile")
        page.keyboard.press("Control+k")
        page.keyboard.type("save view")
        page.keyboard.press("Enter")
        assert page.get_attribute("#palette-input", "placeholder") == "Name of the new album"
        page.keyboard.type("Palette clips")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/?album=Palette+clips")
        page.wait_for_selector("#grid .tile")
        assert page.locator("#grid .tile").count() == 1

        # Toggle favourite on the photo page, then back.
        photo = page.locator("#grid .tile").first.get_attribute("data-id")
        page.goto(server.url + f"/photo/{photo}")
        was = page.locator("button.fav.on").count()
        for expected in (1 - was, was):
            page.keyboard.press("Control+k")
            page.keyboard.type("fav")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.locator("button.fav.on").count() == expected
        # Rescan all runs from the palette too (and lands on the jobs page).
        page.keyboard.press("Control+k")
        page.keyboard.type("rescan")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/jobs")
        assert server.app.extensions["gallerfs_rescans"].wait(60)
        # The shortcuts overlay lists the palette.
        page.keyboard.press("?")
        assert "command palette" in page.locator("dialog#help").inner_text()
        page.goto("about:blank")
    from gallerfs.db import albums as albums_db
    from gallerfs.db.connection import Database

    with Database(corpus_library / "library.sqlite3") as db:
        albums_db.delete_album(db, "Palette clips")
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"


@pytest.mark.parametrize("width", [1400, 1000, 420])
def test_every_page_link_and_button_is_reachable_on_a_narrow_window(corpus_library: Path, tmp_path: Path,
                                                                    browser_page, width: int) -> None:  # fmt: skip
    page, problems, outside = browser_page
    page.set_viewport_size({"width": width, "height": 700})
    with LiveServer(corpus_library) as server:
        page.goto(server.url + "/")
        page.wait_for_selector("#grid .tile")
        page.screenshot(path=str(tmp_path / f"header-{width}.png"))
        bar = page.locator(".topbar").bounding_box()
        assert bar is not None and bar["width"] <= width
        for selector in ("#palette-button", "#help-button", ".brand"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
        # Each page link can be seen, or scrolled to within the header (a phone-sized window).
        links = page.locator(".topbar nav a")
        assert links.count() == 11  # Library … Journal
        for i in range(links.count()):
            links.nth(i).scroll_into_view_if_needed()
            box = links.nth(i).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (i, box)
            assert box["y"] + box["height"] <= bar["y"] + bar["height"]
        # The year scrubber starts below the header, however tall the header is.
        years = page.locator(".years").bounding_box()
        assert years is None or years["y"] >= bar["y"] + bar["height"]
    assert not problems and not outside


def test_the_offline_filter_carries_across_pages(corpus_library: Path, tmp_path: Path, browser_page) -> None:
    from gallerfs.db import sources as sources_db
    from gallerfs.db.connection import Database

    page, problems, outside = browser_page
    with Database(corpus_library / "library.sqlite3") as db:
        source = sources_db.list_sources(db)[0]
        sources_db.set_presence(db, source.id, online=False, reason="test: unplugged")
    try:
        with LiveServer(corpus_library) as server:
            page.goto(server.url + "/")
            page.select_option("select[name=online]", "0")
            with page.expect_navigation():
                page.click(".filters button[type=submit]")
            assert page.url.endswith("/?online=0")
            page.wait_for_selector("#grid .tile.offline .badge.offline")
            total = page.locator("#grid .tile").count()
            assert total == page.locator("#grid .tile.offline").count() > 0
            page.screenshot(path=str(tmp_path / "offline-grid.png"))
            # To the search page by its nav link, to a photo and back: the selection stays.
            with page.expect_navigation():
                page.click(".topbar nav a:text('Search')")
            assert page.url.endswith("/search?online=0")
            assert page.input_value("select[name=online]") == "0"
            photo = page.locator("#grid .tile >> nth=0").get_attribute("data-id")
            with page.expect_navigation():
                page.click("#grid .tile >> nth=0")
            assert page.url.endswith("?online=0") and "/photo/" in page.url
            assert "Drive offline" in page.locator(".offline-note").inner_text()
            with page.expect_navigation():
                page.click("text=← Library")
            assert page.url.endswith(f"/?online=0&at={photo}")  # back at the photo it came from
            assert page.input_value("select[name=online]") == "0"
            # Online only: nothing is, and the page says so.
            page.goto(server.url + "/?online=1")
            assert "No photo matches these filters" in page.locator(".empty").inner_text()
            page.goto("about:blank")
    finally:
        with Database(corpus_library / "library.sqlite3") as db:
            sources_db.set_presence(db, source.id, online=True, reason=None)
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"


LARGE = 100_000


def thumbnails_shown(page, at_least: int) -> None:
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('#grid .tile img')].filter(i => i.complete && i.naturalWidth > 0)"
        ".length >= n",
        arg=at_least,
    )


def test_a_100k_grid_scrolls_to_the_end_with_few_elements(tmp_path: Path, browser_page) -> None:
    page, problems, outside = browser_page
    library = build_large_library(tmp_path, LARGE)
    with LiveServer(library) as server:
        page.goto(server.url + "/")
        thumbnails_shown(page, 24)
        assert page.locator("#count").inner_text() == f"{LARGE}"
        assert page.locator("#grid .tile").count() < 200  # a screenful and a margin, not 100,000
        for _ in range(10):  # wheel scrolling renders the rows that come into view
            page.mouse.wheel(0, 3000)
            page.wait_for_timeout(20)
        page.wait_for_function("() => document.querySelector('#grid .tile') && "
                               "Math.min(...[...document.querySelectorAll('#grid .tile')].map(t => +t.dataset.index)) > 0")  # fmt: skip
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_selector(f"#grid .tile[data-index='{LARGE - 1}'] img")
        thumbnails_shown(page, 24)
        assert page.locator("#grid .tile").count() < 200
        last = page.locator(f"#grid .tile[data-index='{LARGE - 1}']").get_attribute("data-id")
        assert last == "1"  # the oldest file comes last
        page.screenshot(path=str(tmp_path / "grid-100k-end.png"))

        # The year scrubber jumps to the first (newest) file of a year.
        page.wait_for_selector("#years:not([hidden]) button")
        marks = page.locator("#years button")
        assert marks.count() >= 9
        assert page.locator("#years button.current").inner_text() == marks.last.inner_text()  # at the end: oldest
        middle = marks.nth(marks.count() // 2)
        offset = int(middle.get_attribute("data-offset"))
        middle.click()
        page.wait_for_selector(f"#grid .tile[data-index='{offset}']")
        assert page.locator("#years button.current").inner_text() == middle.inner_text()
        page.screenshot(path=str(tmp_path / "grid-100k-year.png"))
        # The timeline: months by default, only the headers on screen are in the page, and the year
        # jumped to starts with its newest month's header at the top.
        heads = page.locator("#grid .section-head")
        assert 1 <= heads.count() <= 6
        year = middle.inner_text()
        assert page.locator(f"#grid .section-head[data-offset='{offset}']").inner_text().startswith("December " + year)
        box = page.locator(f"#grid .section-head[data-offset='{offset}']").bounding_box()
        assert 40 <= box["y"] <= 120  # just below the sticky top bar

        # Days instead of months: a toggle that stays in the URL; the scrubber still jumps to any year.
        with page.expect_navigation():
            page.click(".grouping a[data-group='day']")
        assert page.url.endswith("/?group=day")
        thumbnails_shown(page, 24)
        first_head = page.locator("#grid .section-head").first.inner_text()
        assert first_head.split()[0] in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        assert page.locator("#grid .tile").count() < 200 and page.locator("#grid .section-head").count() < 40
        page.wait_for_selector("#years:not([hidden]) button")
        page.locator("#years button").last.click()
        last_offset = int(page.locator("#years button").last.get_attribute("data-offset"))
        head = page.locator(f"#grid .section-head[data-offset='{last_offset}']")
        head.wait_for()
        assert "31 December " + page.locator("#years button").last.inner_text() in head.inner_text()
        # Down from a day's last row moves into the next day's first row, keeping the column.
        nxt = int(page.locator("#grid .section-head").evaluate_all(
            f"(hs) => Math.min(...hs.map(h => +h.dataset.offset).filter(o => o > {last_offset}))"))  # fmt: skip
        page.wait_for_selector(f"#grid .tile[data-index='{nxt - 1}']")
        rows = page.evaluate(
            f"() => new Set([...document.querySelectorAll('#grid .tile')].filter(t => +t.dataset.index >= {last_offset} "
            f"&& +t.dataset.index < {nxt}).map(t => t.style.transform.split(',')[1])).size"
        )  # fmt: skip
        page.keyboard.press("ArrowRight")
        for _ in range(rows):
            page.keyboard.press("ArrowDown")
        assert page.locator("#grid .tile.selected").get_attribute("data-index") == str(nxt + 1)
        # Open that photo and come back with Esc: the same day view, scrolled to the photo, selected.
        chosen = page.locator("#grid .tile.selected").get_attribute("data-id")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith(f"/photo/{chosen}?group=day")
        with page.expect_navigation():
            page.keyboard.press("ArrowRight")  # the next photo keeps the grouping too
        assert page.url.endswith("?group=day")
        with page.expect_navigation():
            page.keyboard.press("ArrowLeft")
        with page.expect_navigation():
            page.keyboard.press("Escape")
        assert page.url.endswith(f"/?group=day&at={chosen}")
        page.wait_for_selector(f"#grid .tile.selected[data-id='{chosen}']")
        box = page.locator("#grid .tile.selected").bounding_box()
        assert 0 <= box["y"] < 900 - box["height"] / 2
        page.screenshot(path=str(tmp_path / "grid-100k-days.png"))
        page.goto("about:blank")
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"


def test_sources_page_adds_a_folder_and_rescans_with_live_jobs(tmp_path: Path, browser_page) -> None:
    page, problems, outside = browser_page
    library, photos = build_library(tmp_path)
    more = tmp_path / "more"
    more.mkdir()
    shutil.copyfile(photos / "cams" / "Canon_40D.jpg", more / "copy.jpg")
    with LiveServer(library) as server:
        page.goto(server.url + "/sources")
        page.fill("#add-folder input[name=folder]", str(more))
        with page.expect_navigation():
            page.click("#add-folder button[type=submit]")
        assert page.url.endswith("/sources")
        assert page.locator("table tbody tr").count() == 2
        assert str(more) in page.locator("table").inner_text()
        with page.expect_navigation():
            page.click("#rescan-all")
        assert page.url.endswith("/jobs")
        # Both sources scanned, then phase 2: the rows arrive and finish through the event stream.
        page.wait_for_function(
            "() => document.querySelectorAll('#jobs tbody tr').length >= 5 && "
            "!document.querySelector('#jobs tbody tr.state-running')", timeout=120_000,
        )  # fmt: skip
        assert server.app.extensions["gallerfs_rescans"].wait(60)
        page.goto(server.url + "/sources")
        assert "a rescan is running" not in page.content()
        assert page.locator("tbody tr", has_text=str(more)).locator("td.num").first.inner_text() == "1"
        page.screenshot(path=str(tmp_path / "sources.png"))
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"
