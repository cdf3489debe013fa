"""Headless Chromium for the viewer's browser tests: Debian's /usr/bin/chromium driven by Playwright (no
browser is ever downloaded), one browser per test module, a fresh context per test that records console
errors and blocks every request that would leave 127.0.0.1. Registered as a plugin in conftest, so every
browser test module gets the ``browser`` and ``browser_page`` fixtures."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One Chromium for the whole module (starting it is the slow part); each test gets its own context."""
    sync_api = pytest.importorskip("playwright.sync_api")
    empty = tmp_path_factory.mktemp("no-browsers")
    saved = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(empty)  # never look for (or fetch) a bundled browser
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if saved is None:
            os.environ.pop("PLAYWRIGHT_BROWSERS_PATH", None)
        else:
            os.environ["PLAYWRIGHT_BROWSERS_PATH"] = saved
        shutil.rmtree(empty, ignore_errors=True)


@pytest.fixture
def browser_page(browser):
    """A fresh page (own cookies and cache) that records console errors and blocks every request that
    would leave 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
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
        context.close()
