"""The clusters map and the dashboard in real headless Chromium (the conventions of
test_viewer_browser: Debian's /usr/bin/chromium, no request may leave 127.0.0.1, no console error):
one point per embedded photo, hover names the file, a box and a lasso select photos that the grid
then shows, a query appears as a point; the disk-usage sunburst draws a deep tree and drills in."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from tests.clusters_support import PER_COLOUR, build_clip_library
from tests.browser_fixtures import CHROMIUM
from tests.viewer_support import LiveServer

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup installs it)"),
    pytest.mark.timeout(240),
]

# Page coordinates of a point of the map given in map units (plotly's axes: data -> pixels).
TO_PAGE = """([x, y]) => {
  const el = document.getElementById('clusters'), L = el._fullLayout, box = el.getBoundingClientRect();
  return [box.left + L.xaxis._offset + L.xaxis.d2p(x), box.top + L.yaxis._offset + L.yaxis.d2p(y)];
}"""


@pytest.fixture(scope="module")
def clip_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    return build_clip_library(tmp_path_factory.mktemp("plots-browser"))


def _coords(library: Path) -> dict[str, list[tuple[float, float]]]:
    from gallerfs.db import projection as projection_db
    from gallerfs.db.connection import Database

    with Database(library / "library.sqlite3", readonly=True) as db:
        names = {int(i): bytes(n).decode() for i, n in db.tuples("SELECT id, name FROM files")}
        ids, xy = projection_db.points(db)
    out: dict[str, list[tuple[float, float]]] = {}
    for i, (x, y) in zip(ids, xy):
        out.setdefault(names[int(i)].rstrip("0123456789.jpg"), []).append((float(x), float(y)))
    return out


def _drawn(page) -> None:
    page.wait_for_selector("#clusters[data-ready='1']", timeout=60_000)


def _grid_names(page) -> list[str]:
    page.wait_for_selector("#grid .tile")
    total = int(page.get_attribute("#grid", "data-total"))
    page.wait_for_function(f"() => document.querySelectorAll('#grid .tile[title]').length >= {total}")
    return [t.get_attribute("title") for t in page.locator("#grid .tile[title]").all()]


def test_clusters_map_hover_box_lasso_and_query(clip_library: Path, tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, problems, outside = browser_page
    coords = _coords(clip_library)
    with LiveServer(clip_library) as server:
        page.goto(server.url + "/clusters")
        _drawn(page)
        drawn = page.evaluate(
            "() => { const d = document.getElementById('clusters').data; return [d[0].x.length, d[1].x.length]; }"
        )
        assert drawn == [0, 3 * PER_COLOUR]  # one point per embedded photo, all inside the (empty) filters
        assert page.locator("#clusters canvas").count() >= 1  # WebGL
        page.screenshot(path=str(tmp_path / "clusters.png"))

        # Hover names the file and shows its thumbnail.
        gx, gy = page.evaluate(TO_PAGE, list(coords["green"][0]))
        page.mouse.move(gx, gy)
        page.wait_for_selector("#clusters-tip:not([hidden])")
        assert page.locator("#clusters-tip span").inner_text().startswith("green")
        page.wait_for_function(
            "() => { const i = document.querySelector('#clusters-tip img'); return i.complete && i.naturalWidth > 0; }"
        )
        page.screenshot(path=str(tmp_path / "clusters-hover.png"))

        # A box around the red photos selects them; the library grid then shows exactly those.
        page.evaluate("() => Plotly.relayout('clusters', {dragmode: 'select'})")
        xs, ys = zip(*coords["red"])
        pad = 0.08
        (x0, y0), (x1, y1) = (page.evaluate(TO_PAGE, [min(xs) - pad, max(ys) + pad]),
                              page.evaluate(TO_PAGE, [max(xs) + pad, min(ys) - pad]))  # fmt: skip
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
        page.mouse.move(x1, y1, steps=5)
        page.mouse.up()
        page.wait_for_function("() => document.getElementById('clusters-selection').dataset.total !== undefined")
        assert page.get_attribute("#clusters-selection", "data-total") == str(PER_COLOUR)
        assert "cluster=" in page.url
        page.screenshot(path=str(tmp_path / "clusters-box.png"))
        with page.expect_navigation():
            page.click("#selection-grid")
        names = _grid_names(page)
        assert len(names) == PER_COLOUR and all(n.startswith("red") for n in names)
        page.screenshot(path=str(tmp_path / "grid-from-box.png"))

        # A lasso around the blue photos, back on the map.
        page.goto(server.url + "/clusters")
        _drawn(page)
        xs, ys = zip(*coords["blue"])
        cx, cy, r = sum(xs) / len(xs), sum(ys) / len(ys), 0.12

        ring = [page.evaluate(TO_PAGE, [cx + r * math.cos(a / 12 * 2 * math.pi), cy + r * math.sin(a / 12 * 2 * math.pi)])
                for a in range(13)]  # fmt: skip
        page.mouse.move(*ring[0])
        page.mouse.down()
        for p in ring[1:]:
            page.mouse.move(*p, steps=3)
        page.mouse.up()
        page.wait_for_function("() => document.getElementById('clusters-selection').dataset.total !== undefined")
        assert page.get_attribute("#clusters-selection", "data-total") == str(PER_COLOUR)
        page.screenshot(path=str(tmp_path / "clusters-lasso.png"))
        with page.expect_navigation():
            page.click("#selection-grid")
        names = _grid_names(page)
        assert len(names) == PER_COLOUR and all(n.startswith("blue") for n in names)

        # The selection stays a filter on the map too: only the blue photos are inside it.
        page.goto(page.url.replace("/?", "/clusters?"))
        _drawn(page)
        assert page.evaluate(
            "() => { const d = document.getElementById('clusters').data; return [d[0].x.length, d[1].x.length]; }"
        ) == [2 * PER_COLOUR, PER_COLOUR]

        # A query is a point in the same space, with its nearest photos ringed.
        page.goto(server.url + "/clusters?q=red")
        _drawn(page)
        assert page.evaluate("() => document.getElementById('clusters').data[3].x.length") == 1
        assert int(page.get_attribute("#clusters", "data-nearest")) >= PER_COLOUR
        page.screenshot(path=str(tmp_path / "clusters-query.png"))
    assert not problems, problems
    assert not outside, outside


def build_deep_library(root: Path, folders: int = 3000, depth: int = 7) -> Path:
    """A library whose files lie in a deep tree of many folders (through the library's own writes)."""
    from gallerfs.db import files as files_db
    from gallerfs.db import sources as sources_db
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

    paths = LibraryPaths(root=root / "library", config_file=root / "library" / "config.toml")
    paths.ensure()
    (root / "photos").mkdir()
    entries = []
    for i in range(folders):
        parts = [f"level{level}-{(i >> (2 * level)) % 4}" for level in range(1 + i % depth)]
        for k in range(1 + i % 3):
            relpath = "/".join([*parts, f"IMG_{i:05}_{k}.jpg"]).encode()
            entries.append(
                files_db.ScannedFile(
                    relpath, "image", 10_000 + (i * 7919) % 5_000_000, 10**18 + i, 10**18, 0, len(entries)
                )
            )
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="deep", path=os.fsencode(root / "photos"), mount_point=b"/",
                                       fs_uuid=None, fs_type=None, device=0, root_inode=0)  # fmt: skip
        with db.transaction():
            files_db.insert_new(db, source.id, entries)
    return paths.root


def test_dashboard_sunburst_draws_a_deep_tree_and_drills_in(tmp_path: Path, browser_page) -> None:  # noqa: F811
    page, problems, outside = browser_page
    library = build_deep_library(tmp_path)
    with LiveServer(library) as server:
        page.goto(server.url + "/dashboard")
        page.wait_for_selector("#dashboard[data-ready='1']", timeout=60_000)
        slices = page.locator("#dash-folders g.slice").count()
        assert slices > 10
        assert page.locator("#dash-totals li").count() == 5 and "photos" in page.locator("#dash-totals").inner_text()
        assert page.locator("#dash-months .bars path, #dash-months g.point").count() >= 1
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        # Drill into the largest first-level folder: the sunburst's centre becomes that folder.
        target = page.locator("#dash-folders g.slice").nth(2)
        label = target.locator("text").first.text_content()
        target.click()
        page.wait_for_function(
            "() => { const t = document.getElementById('dash-folders')._fullData[0]; return t.level && t.level !== 'n0'; }"
        )
        page.wait_for_timeout(900)  # the transition
        page.screenshot(path=str(tmp_path / "dashboard-drilled.png"), full_page=True)
        assert label
    assert not problems, problems
    assert not outside, outside
