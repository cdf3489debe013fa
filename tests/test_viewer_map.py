"""The map's server side (Flask test client) and the area filter: the binary points format, clusters by
bounding box and zoom, a cluster's list, tooltips' items, the area polygon's validation and its exact
filtering of the grid, search and CLI filters, the basemap settings (pmtiles with Range, an online
template and its CSP), and the empty state."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from gallerfs import area as area_mod
from gallerfs.db import search as search_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.search import Filters
from gallerfs.search.filters import scope
from gallerfs.viewer.mapcluster import PointIndex
from gallerfs.db.map_queries import Positions
from tests.map_support import build_gps_library
from tests.viewer_support import HOST, iter_links, make_app

RNG = np.random.default_rng(12)
# 600 photos: 200 round Munich, 150 round Fiji (both sides of the antimeridian), 250 over the world,
# and every 10th file without a position.
MUNICH = np.c_[RNG.normal(48.14, 0.05, 200), RNG.normal(11.58, 0.08, 200)]
FIJI = np.c_[RNG.uniform(-18.5, -16.0, 150), (RNG.uniform(177.0, 183.0, 150) + 180) % 360 - 180]
WORLD = np.c_[RNG.uniform(-70, 70, 250), RNG.uniform(-180, 180, 250)]
ALL = np.r_[MUNICH, FIJI, WORLD]
POINTS: list[tuple[float, float] | None] = [
    None if i % 10 == 9 else (float(a), float(b)) for i, (a, b) in enumerate(ALL)
]


@pytest.fixture(scope="module")
def geo_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_gps_library(tmp_path_factory.mktemp("map"), POINTS, thumbs=5)


@pytest.fixture
def client(geo_library: Path):
    return make_app(geo_library).test_client()


def get(client, url: str):
    return client.get(url, headers=HOST)


def known() -> dict[int, tuple[float, float]]:
    return {i + 1: p for i, p in enumerate(POINTS) if p is not None}


def inside_brute(area_text: str) -> set[int]:
    """Ray casting written out point by point, independently of the numpy version."""
    a = area_mod.parse(area_text)
    out = set()
    for fid, (lat, lon) in known().items():
        for x in (lon, lon + 360, lon - 360):
            inside = False
            n = len(a.lats)
            for i in range(n):
                y1, x1, y2, x2 = a.lats[i], a.lons[i], a.lats[i - 1], a.lons[i - 1]
                if (y1 > lat) != (y2 > lat) and x < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
            if inside:
                out.add(fid)
                break
    return out


# -- the area polygon ---------------------------------------------------------------------------------


def test_area_round_trips_and_drops_a_closing_vertex() -> None:
    a = area_mod.parse("48.1_11.5_48.1_11.7_48.2_11.7_48.2_11.5_48.1_11.5")
    assert len(a.lats) == 4
    assert a.encode() == "48.1_11.5_48.1_11.7_48.2_11.7_48.2_11.5"
    assert area_mod.parse(a.encode()) == a
    assert a.bbox() == (48.1, 11.5, 48.2, 11.7)


@pytest.mark.parametrize("text, message", [
    ("", "3 to 100 vertices"),
    ("1_2_3_4", "3 to 100 vertices"),
    ("1_2_3_4_5", "pairs"),
    ("1_2_3_4_x_6", "not a number"),
    ("1_2_3_4_nan_6", "not a number"),
    ("1_2_3_4_inf_6", "not a number"),
    ("1_2_3_4_1e3_6", "not a number"),
    ("91_0_0_1_1_1", "latitude 91.0"),
    ("0_181_0_1_1_1", "longitude 181.0"),
    ("0_0_1_1_2_2", "no extent"),
    ("_".join(["1_2", "3_4", "5_7"] * 40), "3 to 100 vertices"),
    ("1" * 3000, "longer than"),
])  # fmt: skip
def test_malformed_areas_are_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(GallerfsError, match=re.escape(message)):
        area_mod.parse(text)


def test_contains_is_even_odd_and_crosses_the_antimeridian() -> None:
    # A U shape: the notch between its arms is outside.
    u = area_mod.parse("0_0_0_3_3_3_3_2_1_2_1_1_3_1_3_0")
    assert u.contains(np.array([0.5, 2.0, 2.0]), np.array([1.5, 1.5, 0.5])).tolist() == [True, False, True]
    fiji = area_mod.parse("-19_176_-19_-176_-15_-176_-15_176")
    assert fiji.lon_ranges() == [(176.0, 180.0), (-180.0, -176.0)]
    got = fiji.contains(np.array([-17, -17, -17, -17]), np.array([179.5, -179.5, 0.0, 170.0]))
    assert got.tolist() == [True, True, False, False]


# -- the area filter, everywhere the filters are ---------------------------------------------------------

MUNICH_BOX = "48.0_11.4_48.0_11.8_48.3_11.8_48.3_11.4"
FIJI_BOX = "-19_176_-19_-176_-15_-176_-15_176"
TRIANGLE = "47.9_11.3_48.4_11.58_47.9_11.9"


@pytest.mark.parametrize("area", [MUNICH_BOX, FIJI_BOX, TRIANGLE])
def test_grid_and_search_filters_show_exactly_the_photos_inside(client, geo_library: Path, area: str) -> None:
    expected = inside_brute(area)
    assert 20 < len(expected) < len(known())
    r = get(client, f"/api/grid?area={area}&limit=1000")
    assert r.status_code == 200, r.json
    assert {i["id"] for i in r.json["items"]} == expected
    assert r.json["total"] == len(expected)
    with Database(geo_library / "library.sqlite3", readonly=True) as db:
        spec = Filters(area=area).to_spec()
        assert set(search_db.matching_ids(db, spec, 10_000)) == expected  # search's candidates
        assert set(scope(db, Filters(area=area)).all_matching(db).tolist()) == expected
        # Combined with another filter: since the 300th file's time.
        both = Filters(area=area, since="2014-05-13").to_spec()
        assert set(search_db.matching_ids(db, both, 10_000)) <= expected
    page = get(client, f"/?area={area}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'name="area" value="{area}" checked' in html  # kept by the filter form
    assert f'data-total="{len(expected)}"' in html


def test_photo_page_steps_within_the_area(client) -> None:
    inside = sorted(inside_brute(MUNICH_BOX))
    html = get(client, f"/photo/{inside[1]}?area={MUNICH_BOX}").get_data(as_text=True)
    steps = {int(m) for m in re.findall(r'href="/photo/(\d+)\?area=', html)}
    assert steps and steps <= set(inside)


@pytest.mark.parametrize("bad", ["1_2_3", "0_0_1_1_2_2", "91_0_0_1_1_1", "a_b_c_d_e_f", "1" * 2500])
@pytest.mark.parametrize("url", ["/", "/api/grid", "/map", "/api/map/points", "/search"])
def test_malformed_area_is_a_400(client, url: str, bad: str) -> None:
    r = get(client, f"{url}?area={bad}")
    assert r.status_code == 400
    assert "area" in r.get_data(as_text=True)


def test_area_given_twice_is_a_400(client) -> None:
    assert get(client, f"/api/grid?area={MUNICH_BOX}&area={FIJI_BOX}").status_code == 400


# -- points and clusters ---------------------------------------------------------------------------------


def decode_points(body: bytes) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    assert body[:4] == b"GFMP"
    version, n, generation = struct.unpack("<III", body[4:16])
    assert version == 1
    assert len(body) == 16 + 12 * n
    lat = np.frombuffer(body, "<f4", n, 16)
    lon = np.frombuffer(body, "<f4", n, 16 + 4 * n)
    ids = np.frombuffer(body, "<u4", n, 16 + 8 * n)
    return n, generation, lat, lon, ids


def test_points_api_is_compact_binary_and_cacheable_by_generation(client) -> None:
    r = get(client, "/api/map/points")
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    n, generation, lat, lon, ids = decode_points(r.data)
    pts = known()
    assert n == len(pts) and ids.tolist() == sorted(pts)
    expect = np.array([pts[i] for i in ids.tolist()])
    assert np.allclose(lat, expect[:, 0], atol=1e-4) and np.allclose(lon, expect[:, 1], atol=1e-4)
    assert r.headers["Cache-Control"] == "private, no-cache"
    again = client.get("/api/map/points", headers={**HOST, "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    pinned = get(client, f"/api/map/points?gen={generation}")
    assert "immutable" in pinned.headers["Cache-Control"]
    filtered = decode_points(get(client, f"/api/map/points?area={MUNICH_BOX}").data)
    assert set(filtered[4].tolist()) == inside_brute(MUNICH_BOX)
    assert get(client, f"/api/map/points?area={MUNICH_BOX}").headers["ETag"] != r.headers["ETag"]


def test_clusters_cover_the_view_at_every_zoom(client) -> None:
    pts = known()
    for zoom in (0, 3, 8, 16):
        r = get(client, f"/api/map/clusters?bbox=-90,-180,90,180&zoom={zoom}")
        assert r.status_code == 200
        rows = r.json["clusters"]
        assert sum(c[2] for c in rows) == len(pts)
        for lat, lon, count, fid, south, west, north, east in rows:
            assert south <= lat <= north and west <= lon <= east
            if count == 1:
                assert fid in pts and abs(pts[fid][0] - lat) < 1e-5
            else:
                assert fid == 0
        if zoom == 0:
            assert len(rows) < 60  # a world view is a few dozen clusters, not 540 markers
        if zoom == 16:
            assert sum(1 for c in rows if c[2] == 1) > 500  # at street level nearly all are apart


def test_clusters_by_bbox_include_only_the_view(client) -> None:
    pts = known()
    rows = get(client, "/api/map/clusters?bbox=47.5,11,48.8,12.2&zoom=12").json["clusters"]
    in_box = [i for i, (lat, lon) in pts.items() if 47.5 <= lat <= 48.8 and 11 <= lon <= 12.2]
    assert sum(c[2] for c in rows) == len(in_box)
    # Across the antimeridian: west > east, and a Leaflet view that ran past 180 after panning.
    fiji = [i for i, (lat, lon) in pts.items() if -19 <= lat <= -15 and (lon >= 176 or lon <= -176)]
    for bbox in ("-19,176,-15,-176", "-19,176,-15,184"):
        rows = get(client, f"/api/map/clusters?bbox={bbox}&zoom=5").json["clusters"]
        assert sum(c[2] for c in rows) == len(fiji) > 50


def test_a_cluster_lists_its_photos_a_page_at_a_time(client) -> None:
    rows = get(client, "/api/map/clusters?bbox=-90,-180,90,180&zoom=2").json["clusters"]
    biggest = max(rows, key=lambda c: c[2])
    bbox = ",".join(str(v) for v in biggest[4:])
    first = get(client, f"/api/map/ids?bbox={bbox}&limit=50").json
    assert first["total"] == biggest[2]
    rest = get(client, f"/api/map/ids?bbox={bbox}&offset=50&limit=200").json
    listed = first["ids"] + rest["ids"]
    assert len(listed) == len(set(listed)) == min(biggest[2], 250)
    items = get(client, f"/api/map/items?ids={','.join(map(str, listed[:20]))}").json["items"]
    assert [i["id"] for i in items] == listed[:20]
    assert all(i["name"].startswith("GEO_") and i["lat"] is not None for i in items)


@pytest.mark.parametrize("url", [
    "/api/map/clusters", "/api/map/clusters?bbox=1,2,3", "/api/map/clusters?bbox=a,b,c,d",
    "/api/map/clusters?bbox=10,0,5,1", "/api/map/clusters?bbox=-91,0,5,1", "/api/map/clusters?bbox=0,0,1,nan",
    "/api/map/clusters?bbox=0,0,1,1&zoom=99", "/api/map/clusters?bbox=0,0,1,1&zoom=-1",
    "/api/map/ids?bbox=0,0,1,1&limit=5000", "/api/map/items", "/api/map/items?ids=1,x",
    "/api/map/items?ids=" + ",".join(str(i) for i in range(1, 200)),
])  # fmt: skip
def test_bad_map_requests_are_400(client, url: str) -> None:
    r = get(client, url)
    assert r.status_code == 400
    assert r.json["error"]


def test_point_index_clusters_match_a_plain_grid_count() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-60, 60, 5000), rng.uniform(-180, 180, 5000)
    index = PointIndex(Positions(np.arange(1, 5001), lat, lon))
    found = index.clusters((-90, -180, 90, 180), 4)
    cells = {(int(x * 64), int(y * 64)) for x, y in zip(index.x, index.y)}  # 2**4 * 256 / 64 cells a side
    assert len(found) == len(cells)
    assert sum(c.count for c in found) == 5000


# -- the page, basemaps, empty state ---------------------------------------------------------------------


def test_map_page_is_in_the_nav_with_strict_headers(client) -> None:
    r = get(client, "/map?kind=image")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r'<a data-filtered href="/map\?kind=image" aria-current="page">Map</a>', html)
    assert 'data-mode="client"' in html and f'data-count="{len(known())}"' in html
    assert "<script>" not in html and "style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", html)
    for link in iter_links(html):
        assert link.startswith("/") or link.startswith("data:"), link
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "img-src 'self' data:;" in csp
    assert "Natural Earth" in html
    assert "vendor/protomaps-leaflet" not in html  # no tiles configured: the outline only
    assert get(client, "/static/map-worker.js").status_code == 200
    assert get(client, "/map/tiles.pmtiles").status_code == 404


def test_beyond_the_threshold_the_server_clusters(geo_library: Path) -> None:
    client = make_app(geo_library, MAP_CLIENT_MAX_POINTS=300).test_client()
    html = get(client, "/map").get_data(as_text=True)
    assert 'data-mode="server"' in html
    html = get(client, f"/map?area={MUNICH_BOX}").get_data(as_text=True)  # fewer: the browser clusters them
    assert 'data-mode="client"' in html


def test_local_pmtiles_are_served_with_range_requests(tmp_path: Path) -> None:
    tiles = tmp_path / "basemap.pmtiles"
    data = bytes(range(256)) * 64
    tiles.write_bytes(data)
    library = build_gps_library(tmp_path, [(1.0, 2.0), None], config=f'map_tiles = "{tiles}"\n')
    client = make_app(library).test_client()
    html = get(client, "/map").get_data(as_text=True)
    assert 'data-basemap="pmtiles"' in html and 'data-tiles="/map/tiles.pmtiles"' in html
    assert "vendor/protomaps-leaflet/protomaps-leaflet.js" in html
    assert "OpenStreetMap contributors" in html
    r = client.get("/map/tiles.pmtiles", headers={**HOST, "Range": "bytes=100-227"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 100-227/{len(data)}"
    assert r.data == data[100:228]
    assert r.headers["Accept-Ranges"] == "bytes"
    whole = get(client, "/map/tiles.pmtiles")
    assert whole.status_code == 200 and whole.data == data
    assert client.get("/map/tiles.pmtiles", headers={**HOST, "Range": f"bytes={len(data) + 5}-"}).status_code == 416


def test_online_tiles_only_when_asked_and_only_that_origin(tmp_path: Path) -> None:
    template = "https://tiles.example.org/osm/{z}/{x}/{y}.png"
    library = build_gps_library(tmp_path, [(1.0, 2.0)], config=f'map_tiles = "{template}"\n')
    client = make_app(library).test_client()
    r = get(client, "/map")
    assert 'data-basemap="online"' in r.get_data(as_text=True)
    csp = r.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in csp
    assert "connect-src 'self';" in csp and "script-src 'self';" in csp


@pytest.mark.parametrize("setting, problem", [
    ("/nowhere/world.pmtiles", "does not exist"),
    ("/etc/hostname", "not a .pmtiles file"),
    ("https://tiles.example.org/tile.png", "{z}, {x} and {y}"),
])  # fmt: skip
def test_unusable_map_tiles_fall_back_to_the_outline_and_say_why(tmp_path: Path, setting: str, problem: str) -> None:
    library = build_gps_library(tmp_path, [(1.0, 2.0)], config=f'map_tiles = "{setting}"\n')
    r = get(make_app(library).test_client(), "/map")
    html = r.get_data(as_text=True)
    assert 'data-basemap="outline"' in html
    assert problem in html.replace("&#39;", "'")
    assert "img-src 'self' data:;" in r.headers["Content-Security-Policy"]


def test_without_gps_photos_the_page_says_what_to_do(tmp_path: Path) -> None:
    library = build_gps_library(tmp_path, [None, None])
    html = get(make_app(library).test_client(), "/map").get_data(as_text=True)
    assert "No photo has a GPS position yet" in html
    assert 'id="map"' not in html
    assert "gallerfs index" in html
