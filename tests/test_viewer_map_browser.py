"""The map in real headless Chromium (the conventions of test_viewer_browser: Debian's /usr/bin/chromium,
no request may leave 127.0.0.1, no console error): the corpus's geotagged photos appear as clusters and
markers, hovering a marker shows its file name, the heatmap toggles, and a rectangle drawn on the map
filters the library grid to exactly the photos inside it."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from gallerfs.area import parse as parse_area
from gallerfs.db.connection import Database
from tests.conftest import EXIF_CORPUS
from tests.mountutil import build_library
from tests.browser_fixtures import CHROMIUM
from tests.viewer_support import LiveServer

pytestmark = [
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup installs it)"),
    pytest.mark.timeout(240),
]

# Geotagged JPEGs of the corpus: four round Florence (DSCN*, plus a copy added below), others across Europe, America, Asia, Africa.
GPS_PHOTOS = [
    "exif-samples/jpg/gps/DSCN0021.jpg", "exif-samples/jpg/gps/DSCN0025.jpg", "exif-samples/jpg/gps/DSCN0029.jpg",
    "exif-samples/jpg/gps/DSCN0040.jpg", "exif-samples/jpg/tests/87_OSError.jpg", "exif-samples/jpg/Kodak_CX7530.jpg",
    "exif-samples/jpg/hdr/iphone_hdr_NO.jpg", "exiftool/Apple.jpg", "exiftool/GPS.jpg", "exiftool/GoPro.jpg",
    "exiftool/Google.jpg", "elodie/with-location.jpg", "immich/metadata/dates/gps-datetime.jpg",
    "immich/metadata/gps-position/thompson-springs.jpg", "lychee/aarhus.jpg", "lychee/mongolia.jpeg",
]  # fmt: skip
FLORENCE = (43.40, 11.80, 43.55, 11.95)  # south, west, north, east round the four DSCN photos


@pytest.fixture(scope="module")
def gps_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("viewer-map")
    photos = root / "photos"
    photos.mkdir()
    for rel in GPS_PHOTOS:
        shutil.copyfile(EXIF_CORPUS / rel, photos / Path(rel).name)
    shutil.copyfile(EXIF_CORPUS / "exif-samples/jpg/Canon_40D.jpg", photos / "no-gps.jpg")
    # A second file at exactly DSCN0021's position: a cluster no zoom splits, which lists its photos.
    data = (EXIF_CORPUS / GPS_PHOTOS[0]).read_bytes() + b"\x00another file"
    (photos / "DSCN0021-copy.jpg").write_bytes(data)
    library, _ = build_library(root, photos)
    return library


def positions(library: Path) -> dict[int, tuple[float, float]]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        rows = db.tuples("SELECT file_id, latitude, longitude FROM metadata WHERE latitude IS NOT NULL")
    return {int(i): (float(lat), float(lon)) for i, lat, lon in rows}


def map_ready(page) -> None:
    page.wait_for_function("() => +document.getElementById('map').dataset.rendered >= 1")


def test_map_shows_clusters_hover_names_and_a_rectangle_filters_the_grid(gps_library: Path, tmp_path: Path,
                                                                         browser_page) -> None:  # fmt: skip  # noqa: F811
    page, problems, outside = browser_page
    known = positions(gps_library)
    assert len(known) >= 12
    with LiveServer(gps_library) as server:
        page.goto(server.url + "/map")
        map_ready(page)
        page.wait_for_selector("#map.basemap-ready")
        page.wait_for_selector("#map[data-indexed]", state="attached")  # clustered in the browser from here on
        assert int(page.get_attribute("#map", "data-count")) == len(known)
        # The world view: clusters for the places with several photos, markers for single ones.
        shown = page.evaluate(
            "() => [...document.querySelectorAll('.map-cluster')].reduce((n, c) => n + +c.dataset.count, 0)"
            " + document.querySelectorAll('.map-photo').length"
        )
        assert shown == len(known)
        assert page.locator(".map-cluster").count() >= 1
        page.screenshot(path=str(tmp_path / "map-world.png"))
        # The attribution names Leaflet and Natural Earth as text; no link on the page leads off this machine.
        assert page.inner_text(".leaflet-control-attribution").split() == ["Leaflet", "|", "Natural", "Earth"]
        hrefs = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        assert hrefs and all(h.startswith(server.url + "/") for h in hrefs), [h for h in hrefs if not h.startswith(server.url)]

        # Zoom to Florence: the four DSCN photos are markers now (or a cluster that a click opens).
        page.evaluate(
            f"() => {{ gallerfsMap.fitBounds([[{FLORENCE[0]}, {FLORENCE[1]}], [{FLORENCE[2]}, {FLORENCE[3]}]]); }}"
        )
        # Clicking their cluster zooms in until they part; the two at one position stay together, and
        # at the closest clustering zoom a click lists them.
        for _ in range(10):
            page.wait_for_timeout(700)
            if page.locator("#map-list:not([hidden])").count():
                break
            page.locator(".map-cluster").first.click()
        page.wait_for_function("() => document.querySelectorAll('#map-list .map-item').length === 2")
        names = sorted(page.locator("#map-list .map-item span").all_inner_texts())
        assert names == ["DSCN0021-copy.jpg", "DSCN0021.jpg"]
        assert page.locator("#map-list .more").is_hidden()  # nothing more to page through
        page.screenshot(path=str(tmp_path / "map-list.png"))
        page.click("#map-list .close")
        # The four places as tightly as the view allows: single photos are markers.
        dscn = [p for p in known.values() if FLORENCE[0] <= p[0] <= FLORENCE[2] and FLORENCE[1] <= p[1] <= FLORENCE[3]]
        lats, lons = [p[0] for p in dscn], [p[1] for p in dscn]
        page.evaluate(f"() => {{ gallerfsMap.fitBounds([[{min(lats)}, {min(lons)}], [{max(lats)}, {max(lons)}]],"
                      " {padding: [60, 60], animate: false}); }")  # fmt: skip
        page.wait_for_function("() => document.querySelectorAll('.map-photo').length >= 2")
        # Hover a marker that no other covers.
        spot = page.evaluate("""() => {
            for (const m of document.querySelectorAll('.map-photo')) {
                const r = m.getBoundingClientRect();
                const x = r.left + r.width / 2, y = r.top + r.height / 2;
                if (document.elementFromPoint(x, y) === m) return {id: +m.dataset.id, x, y};
            }
            return null;
        }""")
        assert spot, "no marker is uncovered"
        fid = spot["id"]
        page.mouse.move(spot["x"], spot["y"])
        page.wait_for_selector(".map-tip .name")
        name = page.locator(".map-tip .name").inner_text()
        with Database(gps_library / "library.sqlite3", readonly=True) as db:
            assert name == bytes(db.value("SELECT name FROM files WHERE id = ?", (fid,))).decode()
        page.screenshot(path=str(tmp_path / "map-hover.png"))

        # Heatmap on and off.
        page.check("#heat-toggle")
        page.wait_for_selector("canvas.leaflet-heatmap-layer")
        assert page.locator(".map-photo").count() == 0
        page.screenshot(path=str(tmp_path / "map-heat.png"))
        page.uncheck("#heat-toggle")
        page.wait_for_selector(".map-photo")

        # A rectangle round Florence's four, drawn inside the view.
        page.evaluate(f"() => {{ gallerfsMap.fitBounds([[{FLORENCE[0]}, {FLORENCE[1]}], [{FLORENCE[2]}, {FLORENCE[3]}]],"
                      " {padding: [120, 120], animate: false}); }")  # fmt: skip
        page.wait_for_timeout(300)
        corners = page.evaluate(
            f"() => [gallerfsMap.latLngToContainerPoint([{FLORENCE[2]}, {FLORENCE[1]}]),"
            f" gallerfsMap.latLngToContainerPoint([{FLORENCE[0]}, {FLORENCE[3]}])]"
        )
        box = page.locator("#map").bounding_box()
        page.click("button[data-draw=rectangle]")
        page.mouse.move(box["x"] + corners[0]["x"], box["y"] + corners[0]["y"])
        page.mouse.down()
        page.mouse.move(box["x"] + (corners[0]["x"] + corners[1]["x"]) / 2, box["y"] + corners[1]["y"] - 10, steps=4)
        page.mouse.move(box["x"] + corners[1]["x"], box["y"] + corners[1]["y"], steps=4)
        page.mouse.up()
        page.wait_for_selector("#area-bar:not([hidden])[data-count]")
        page.screenshot(path=str(tmp_path / "map-area.png"))
        area_text = page.evaluate("() => new URL(location.href).searchParams.get('area')")
        area = parse_area(area_text)
        south, west, north, east = area.bbox()
        expected = {i for i, (lat, lon) in known.items() if south <= lat <= north and west <= lon <= east}
        assert len(expected) == 5, expected  # the DSCN photos, and nothing from elsewhere in Tuscany
        assert int(page.get_attribute("#area-bar", "data-count")) == len(expected)

        # A lasso round the same place gives the same photos (its path thinned to at most 100 vertices).
        page.click("#area-bar .clear-area")
        assert page.locator("#area-bar").is_hidden()
        page.click("button[data-draw=lasso]")
        cx, cy = (corners[0]["x"] + corners[1]["x"]) / 2, (corners[0]["y"] + corners[1]["y"]) / 2
        rx, ry = abs(corners[1]["x"] - corners[0]["x"]) / 2, abs(corners[1]["y"] - corners[0]["y"]) / 2
        page.mouse.move(box["x"] + cx + rx, box["y"] + cy)
        page.mouse.down()
        for k in range(1, 241):
            t = 2 * math.pi * k / 240
            page.mouse.move(box["x"] + cx + rx * math.cos(t), box["y"] + cy + ry * math.sin(t))
        page.mouse.up()
        page.wait_for_selector("#area-bar:not([hidden])[data-count]")
        lasso = parse_area(page.evaluate("() => new URL(location.href).searchParams.get('area')"))
        assert 8 <= len(lasso.lats) <= 100
        lasso_expected = {i for i, (lat, lon) in known.items() if lasso.contains(np.array([lat]), np.array([lon]))[0]}
        assert lasso_expected == expected
        assert int(page.get_attribute("#area-bar", "data-count")) == len(expected)
        page.screenshot(path=str(tmp_path / "map-lasso.png"))

        with page.expect_navigation():
            page.click("#area-bar .grid-link")
        page.wait_for_selector("#grid .tile")
        page.wait_for_function("(n) => document.querySelectorAll('#grid .tile').length === n", arg=len(expected))
        grid_ids = {int(t) for t in page.eval_on_selector_all("#grid .tile", "ts => ts.map(t => t.dataset.id)")}
        assert grid_ids == expected
        assert page.locator(".filters input[name=area]").is_checked()
        page.screenshot(path=str(tmp_path / "grid-area.png"))

        # The map with the area filter shows only those photos, with the area drawn.
        with page.expect_navigation():
            page.click(".topbar nav a:has-text('Map')")
        map_ready(page)
        assert int(page.get_attribute("#map", "data-count")) == len(expected)
        assert page.locator("path.map-area").count() == 1
        page.screenshot(path=str(tmp_path / "map-filtered.png"))
        page.goto("about:blank")
    print(f"screenshots in {tmp_path}")
    assert not problems, problems
    assert not outside, f"requests left 127.0.0.1: {outside}"
