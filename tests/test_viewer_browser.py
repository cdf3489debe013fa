"""The viewer in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser is
downloaded): the grid shows thumbnails, keyboard opens a photo, the jobs page follows its event stream, the
sources page adds a folder and rescans it, a 100,000-file grid keeps only what is on screen in the page; no
console error, no request leaves 127.0.0.1."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.mountutil import build_library
from tests.viewer_support import LiveServer, build_large_library

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup installs it)"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library, _ = build_library(tmp_path_factory.mktemp("viewer-browser"))
    return library


@pytest.fixture
def browser_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    empty = tmp_path / "no-browsers"
    empty.mkdir()
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(empty))  # never look for (or fetch) a bundled browser
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            outside: list[str] = []

            def route(r) -> None:
                url = r.request.url
                if url.startswith("http://127.0.0.1:") or url.startswith("data:"):
                    r.continue_()
                else:
                    outside.append(url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            yield page, problems, outside
        finally:
            browser.close()
    shutil.rmtree(empty, ignore_errors=True)


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

        # / goes to search, keeping the filters; there it puts the cursor in the query box.
        page.goto(server.url + "/?kind=image")
        with page.expect_navigation():
            page.keyboard.press("/")
        assert page.url.endswith("/search?kind=image")
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
        assert page.locator("#jobs tbody tr").count() == 3  # the index's scan, process and places jobs
        page.screenshot(path=str(tmp_path / "jobs.png"))
        page.goto("about:blank")  # closes the event stream before the server stops
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
