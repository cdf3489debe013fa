"""The clusters map and the dashboard: the indexer's ``project`` stage (fit, incremental placement,
refit), the cluster-selection filter (in SQL, the same in grid and search), the viewer's points,
query and hover APIs, the dashboard's panels under the filters, and the bounded sunburst."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

from gallerfs.db import projection as projection_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.search import Filters
from gallerfs.search.region import MAX_VERTICES, Region, parse
from gallerfs.viewer import sunburst
from gallerfs.viewer.security import CSP, CSP_WITH_EVAL
from gallerfs.indexer.projection import pca, project_library
from tests.clusters_support import PER_COLOUR, add_vectors, build_clip_library
from tests.mountutil import build_library
from tests.viewer_support import HOST, build_large_library, make_app


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library, _ = build_library(tmp_path_factory.mktemp("plots-corpus"))
    return library


@pytest.fixture(scope="module")
def clip_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    return build_clip_library(tmp_path_factory.mktemp("plots-clip"))


def get(client, url: str):
    return client.get(url, headers=HOST)


def reader(library: Path) -> Database:
    return Database(library / "library.sqlite3", readonly=True)


def unpack(data: bytes) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    assert data[:4] == b"GFPT"
    n, fit, _ = struct.unpack("<III", data[4:16])
    x = np.frombuffer(data, "<f4", n, 16)
    y = np.frombuffer(data, "<f4", n, 16 + 4 * n)
    ids = np.frombuffer(data, "<u4", n, 16 + 8 * n)
    in_view = np.frombuffer(data, np.uint8, n, 16 + 12 * n)
    assert len(data) == 16 + 13 * n
    return fit, x, y, ids, in_view


def names(library: Path) -> dict[int, str]:
    with reader(library) as db:
        return {i.id: i.name for i in vq.items_by_ids(db, vq.ordered_ids(db, Filters().to_spec()))}


def box_around(x: np.ndarray, y: np.ndarray, pad: float = 0.05) -> list[tuple[float, float]]:
    x0, x1, y0, y1 = float(x.min()) - pad, float(x.max()) + pad, float(y.min()) - pad, float(y.max()) + pad
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def region_text(fit: int, polygon: list[tuple[float, float]]) -> str:
    return Region(fit, tuple(p[0] for p in polygon), tuple(p[1] for p in polygon)).text()


# --- the project stage ----------------------------------------------------------------------------


def test_pca_finds_the_two_widest_directions_with_a_stable_sign() -> None:
    rng = np.random.default_rng(3)
    data = rng.normal(size=(500, 6)) * np.array([5.0, 0.1, 2.0, 0.1, 0.1, 0.1])
    mean, comps = pca(data)
    assert np.allclose(mean, data.mean(axis=0), atol=1e-5)
    assert abs(abs(comps[0, 0]) - 1) < 0.01 and abs(abs(comps[1, 2]) - 1) < 0.02
    assert comps[0, 0] > 0 and comps[1, 2] > 0  # the largest coefficient is positive
    mean2, comps2 = pca(-data)  # the same directions, whatever the data's sign
    assert np.allclose(comps2, comps, atol=1e-5)
    one_mean, one = pca(data[:1])
    assert one.shape == (2, 6) and not one.any() and np.allclose(one_mean, data[0])


def test_the_stage_places_new_vectors_without_moving_old_ones_and_refits_on_growth(tmp_path: Path) -> None:
    library = build_large_library(tmp_path, 400, thumbs_at_ends=0)
    db_path = library / "library.sqlite3"
    add_vectors(db_path, list(range(1, 101)))
    with Database(db_path) as db:
        first = project_library(db)
        assert first.refitted and first.placed == 100 and first.points == 100
        fit = projection_db.get_fit(db)
        ids, xy = projection_db.points(db)
        assert fit is not None and fit.fit == 1 and list(ids) == list(range(1, 101))
        jobs = db.value("SELECT count(*) FROM jobs WHERE kind = 'project'")
        again = project_library(db)  # nothing new: nothing placed, and no job recorded for it
        assert (again.placed, again.refitted, again.points) == (0, False, 100)
        assert db.value("SELECT count(*) FROM jobs WHERE kind = 'project'") == jobs == 1
    add_vectors(db_path, list(range(101, 151)), seed=1)  # 1.5x: placed with the same map
    with Database(db_path) as db:
        report = project_library(db)
        assert (report.placed, report.refitted, report.points) == (50, False, 150)
        ids2, xy2 = projection_db.points(db)
        assert np.array_equal(xy2[:100], xy) and projection_db.get_fit(db).fit == 1
        # a removed vector takes its point with it, at once (trigger) and for good
        db.execute("DELETE FROM embeddings WHERE file_id = 7")
        assert 7 not in set(projection_db.points(db)[0].tolist())
        version = projection_db.version(db)
    add_vectors(db_path, list(range(151, 401)))  # 400 >= 2 x 150: a new map
    with Database(db_path) as db:
        assert projection_db.version(db) == version
        report = project_library(db)
        assert report.refitted and report.points == 399 and projection_db.get_fit(db).fit == 2
        jobs = db.tuples("SELECT state FROM jobs WHERE kind = 'project'")
        assert jobs and all(j[0] == "done" for j in jobs)


def test_groups_of_similar_vectors_stay_apart_on_the_map(tmp_path: Path) -> None:
    library = build_large_library(tmp_path, 300, thumbs_at_ends=0)
    groups = add_vectors(library / "library.sqlite3", list(range(1, 301)), groups=3)
    with Database(library / "library.sqlite3") as db:
        project_library(db)
        ids, xy = projection_db.points(db)
    centres = {g: xy[[groups[int(i)] == g for i in ids]].mean(axis=0) for g in range(3)}
    spread = max(float(np.linalg.norm(xy[k] - centres[groups[int(i)]])) for k, i in enumerate(ids))
    gaps = [float(np.linalg.norm(centres[a] - centres[b])) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 3 * spread


def test_without_vectors_the_stage_does_nothing(tmp_path: Path) -> None:
    library = build_large_library(tmp_path, 20, thumbs_at_ends=0)
    with Database(library / "library.sqlite3") as db:
        report = project_library(db)
        assert (report.placed, report.points, report.refitted) == (0, 0, False)
        assert "nothing to place" in report.as_dict()["summary"]
        assert projection_db.get_fit(db) is None


# --- the selection filter -------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "", "1", "1:", "x:0,0;1,0;1,1", "1:0,0;1,0", "1:0,0;1,0;1,nan", "1:0,0;1,0;1,inf", "1:0,0;1;1,1",
    "1:0,0;1,0;1e9,1", "1:0,0;a,b;1,1", "1:" + ";".join(f"{i},{i % 2}" for i in range(MAX_VERTICES + 1)),
    "1:" + "0," * 1500,
])  # fmt: skip
def test_a_malformed_selection_is_a_clear_error(text: str) -> None:
    with pytest.raises(GallerfsError, match="cluster selection"):
        parse(text)


def test_the_sql_and_numpy_tests_agree_on_a_concave_polygon(tmp_path: Path) -> None:
    library = build_large_library(tmp_path, 600, thumbs_at_ends=0)
    add_vectors(library / "library.sqlite3", list(range(1, 601)), groups=6, seed=4)
    with Database(library / "library.sqlite3") as db:
        project_library(db)
        ids, xy = projection_db.points(db)
        fit = projection_db.current_fit_number(db)
        cx, cy = xy.mean(axis=0)
        r = float(np.abs(xy - [cx, cy]).max())
        star = [(cx + (r if k % 2 == 0 else r / 3) * np.cos(k * np.pi / 5),
                 cy + (r if k % 2 == 0 else r / 3) * np.sin(k * np.pi / 5)) for k in range(10)]  # fmt: skip
        text = region_text(int(fit), [(float(a), float(b)) for a, b in star])
        region = parse(text)
        expected = set(ids[region.contains(xy[:, 0], xy[:, 1])].tolist())
        got = set(vq.ordered_ids(db, Filters(cluster=text).to_spec()))
        assert got == expected and 0 < len(got) < len(ids)
        dated = set(vq.ordered_ids(db, Filters(cluster=text, since="2012").to_spec()))
        assert dated < got  # combines with the other filters


# --- the viewer: clusters -------------------------------------------------------------------------


def test_without_embeddings_the_page_says_how_to_get_them(corpus_library: Path) -> None:
    client = make_app(corpus_library).test_client()
    r = get(client, "/clusters")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "gallerfs models install" in html and "gallerfs index" in html
    assert "plotly" not in html and r.headers["Content-Security-Policy"] == CSP
    r = get(client, "/api/clusters/points")
    assert r.status_code == 404 and "gallerfs index" in r.get_json()["error"]
    assert 'href="/clusters"' in get(client, "/").get_data(as_text=True)  # in the nav


def test_plotly_is_served_from_the_plotly_package(corpus_library: Path) -> None:
    client = make_app(corpus_library).test_client()
    js = get(client, "/vendor/plotly.min.js")
    assert js.status_code == 200 and js.mimetype == "text/javascript" and b"plotly.js" in js.data[:200]
    css = get(client, "/vendor/plotly.css").get_data(as_text=True)
    assert ".js-plotly-plot .plotly .main-svg {position:absolute" in css and ".modebar" in css


def test_points_come_packed_one_per_embedded_photo(clip_library: Path) -> None:
    client = make_app(clip_library).test_client()
    page = get(client, "/clusters")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="clusters"' in html and "/vendor/plotly.min.js" in html
    assert page.headers["Content-Security-Policy"] == CSP_WITH_EVAL and "'unsafe-inline'" not in CSP_WITH_EVAL
    assert "<script>" not in html and "style=" not in html
    fit, x, y, ids, in_view = unpack(get(client, "/api/clusters/points").data)
    with reader(clip_library) as db:
        embedded = {r[0] for r in db.tuples("SELECT file_id FROM embeddings WHERE state = 'done'")}
        assert fit == projection_db.current_fit_number(db)
    assert set(ids.tolist()) == embedded and len(ids) == 3 * PER_COLOUR and in_view.all()
    _, _, _, ids2, in_view2 = unpack(get(client, "/api/clusters/points?kind=video").data)
    assert list(ids2) == list(ids) and not in_view2.any()  # still drawn, marked outside the filters
    assert get(client, "/api/clusters/points?kind=bogus").status_code == 400


def test_a_box_selection_filters_the_grid_and_search_to_the_same_photos(clip_library: Path) -> None:
    client = make_app(clip_library).test_client()
    fit, x, y, ids, _ = unpack(get(client, "/api/clusters/points").data)
    shown = names(clip_library)
    red = np.array([shown[int(i)].startswith("red") for i in ids])
    text = region_text(fit, box_around(x[red], y[red]))
    grid = get(client, "/api/grid?" + _qs(cluster=text)).get_json()
    assert grid["total"] == PER_COLOUR and {shown[i["id"]][:3] for i in grid["items"]} == {"red"}
    page = get(client, "/?" + _qs(cluster=text)).get_data(as_text=True)
    assert f'<span id="count">{PER_COLOUR}</span>' in page and 'name="cluster"' in page  # kept by the form
    found = get(client, "/search?" + _qs(q="green", cluster=text)).get_data(as_text=True)
    titles = re.findall(r'title="([^"]+)"', found.split('class="results"')[1]) if 'class="results"' in found else []
    assert titles and all(t.startswith("red") for t in titles)
    _, _, _, ids2, in_view = unpack(get(client, "/api/clusters/points?" + _qs(cluster=text)).data)
    assert {shown[int(i)][:3] for i in ids2[in_view == 1]} == {"red"}


def _qs(**args: str) -> str:
    from urllib.parse import urlencode

    return urlencode(args)


@pytest.mark.parametrize("bad", ["1:0,0;1,1", "zzz", "1:0,0;1,0;nan,1", "999:0,0;1,0;1,1"])
def test_a_bad_or_stale_selection_is_400(clip_library: Path, bad: str) -> None:
    client = make_app(clip_library).test_client()
    for url in ("/", "/api/grid", "/clusters", "/api/clusters/points", "/search", "/dashboard", "/api/dashboard"):
        r = get(client, f"{url}?{_qs(cluster=bad)}")
        assert r.status_code == 400, (url, bad)
        assert ("recomputed" in r.get_data(as_text=True)) == bad.startswith("999:")
    assert get(client, "/api/grid?" + _qs(cluster="1:" + "0,0;" * 700)).status_code == 400  # over the length cap


def test_a_query_is_placed_near_its_photos(clip_library: Path) -> None:
    client = make_app(clip_library).test_client()
    fit, x, y, ids, _ = unpack(get(client, "/api/clusters/points").data)
    shown = names(clip_library)
    r = get(client, "/api/clusters/query?q=red")
    assert r.status_code == 200
    found = r.get_json()
    assert found["fit"] == fit and found["query"] == "red"
    assert [shown[i][:3] for i in found["nearest"][:PER_COLOUR]] == ["red"] * PER_COLOUR
    dist = {
        c: float(np.hypot(x[m] - found["x"], y[m] - found["y"]).mean())
        for c in ("red", "green", "blue")
        for m in [np.array([shown[int(i)].startswith(c) for i in ids])]
    }
    assert dist["red"] == min(dist.values())
    blue = np.array([shown[int(i)].startswith("blue") for i in ids])
    narrowed = get(client, "/api/clusters/query?q=red&" + _qs(cluster=region_text(fit, box_around(x[blue], y[blue]))))
    narrowed = narrowed.get_json()
    assert narrowed["nearest"] and all(shown[i].startswith("blue") for i in narrowed["nearest"])
    assert get(client, "/api/clusters/query").status_code == 400
    assert get(client, "/api/clusters/query?q=" + "x" * 1001).status_code == 400
    html = get(client, "/clusters?q=red").get_data(as_text=True)
    assert 'data-query="red"' in html and 'value="red"' in html


def test_hover_details_name_the_file(clip_library: Path) -> None:
    client = make_app(clip_library).test_client()
    _, _, _, ids, _ = unpack(get(client, "/api/clusters/points").data)
    item = get(client, f"/api/clusters/item/{int(ids[0])}").get_json()
    assert item["name"] == names(clip_library)[int(ids[0])] and item["thumb"] is True
    assert get(client, "/api/clusters/item/0").status_code == 400
    assert get(client, "/api/clusters/item/987654").status_code == 404


# --- the viewer: dashboard ------------------------------------------------------------------------


def test_dashboard_panels_match_the_library_and_follow_the_filters(corpus_library: Path) -> None:
    client = make_app(corpus_library).test_client()
    page = get(client, "/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="dash-folders"' in html and page.headers["Content-Security-Policy"] == CSP
    assert "<script>" not in html and "style=" not in html and 'href="/dashboard"' in html
    data = get(client, "/api/dashboard").get_json()
    with reader(corpus_library) as db:
        files, videos, size = db.tuples("SELECT count(*), sum(kind = 'video'), sum(size) FROM files")[0]
        online = db.value("SELECT count(*) FROM sources WHERE online = 1")
    t = data["totals"]
    assert (t["files"], t["videos"], t["photos"], t["bytes"]) == (files, videos, files - videos, size)
    assert t["sources_online"] == online and t["first"] <= t["last"]
    assert sum(n for _, n in data["months"]) == files
    assert sum(r["files"] for r in data["types"]) == files and sum(s["files"] for s in data["sources"]) == files
    assert data["folders"]["values"][0] == size and data["folders"]["maxdepth"] == sunburst.MAXDEPTH
    assert data["cameras"]["top"] and all(n > 0 for _, n in data["cameras"]["top"])
    videos_only = get(client, "/api/dashboard?kind=video").get_json()
    assert videos_only["totals"]["files"] == videos and videos_only["totals"]["photos"] == 0
    assert sum(r["files"] for r in videos_only["types"]) == videos
    assert all(r["kind"] == "video" for r in videos_only["types"])
    camera = data["cameras"]["top"][0][0]
    by_camera = get(client, "/api/dashboard?" + _qs(camera=camera)).get_json()
    assert by_camera["cameras"]["top"][0] == data["cameras"]["top"][0]
    assert by_camera["totals"]["files"] == data["cameras"]["top"][0][1] + sum(
        n for c, n in by_camera["cameras"]["top"][1:])  # fmt: skip
    assert get(client, "/api/dashboard?since=garbage").status_code == 400
    assert get(client, "/api/dashboard?source=nope").status_code == 400
    nothing = get(client, "/api/dashboard?since=1990&until=1990").get_json()
    assert nothing["totals"]["files"] == 0 and nothing["months"] == [] and nothing["folders"]["ids"] == ["n0"]


def test_an_empty_library_dashboard_explains(tmp_path: Path) -> None:
    from gallerfs.paths import resolve_library

    paths = resolve_library(tmp_path / "lib")
    paths.ensure()
    Database(paths.db).close()
    client = make_app(paths.root).test_client()
    html = get(client, "/dashboard").get_data(as_text=True)
    assert "The library is empty" in html and "gallerfs add" in html and "plotly" not in html
    assert get(client, "/api/dashboard").get_json()["totals"]["files"] == 0
    assert "gallerfs models install" in get(client, "/clusters").get_data(as_text=True)


def deep_rows(folders: int, depth: int) -> list[tuple[str, bytes, int, int]]:
    rows = []
    for i in range(folders):
        parts = [f"l{level}-{(i >> (2 * level)) % 4}" for level in range(depth)]
        rows.append(
            (
                "src" if i % 5 else "usb",
                "/".join(parts[: 1 + i % depth]).encode(),
                1 + i % 3,
                1000 + (i * 7919) % 100_000,
            )
        )
    return rows


def test_the_sunburst_is_bounded_and_consistent_for_a_deep_tree() -> None:
    rows = deep_rows(10_000, 9)
    out = sunburst.build(rows)
    n = len(out["ids"])
    assert n <= sunburst.MAX_NODES and len(set(out["ids"])) == n
    value = dict(zip(out["ids"], out["values"]))
    assert out["values"][0] == sum(r[3] for r in rows) and out["files"][0] == sum(r[2] for r in rows)
    children: dict[str, int] = {}
    for parent, v in zip(out["parents"], out["values"]):
        if parent:
            assert parent in value
            children[parent] = children.get(parent, 0) + v
    assert all(total <= value[p] for p, total in children.items())  # branchvalues='total' holds
    assert any(label.startswith("other (") for label in out["labels"])
    depth = {"n0": 0}
    for node, parent in zip(out["ids"], out["parents"]):
        if parent:
            depth[node] = depth[parent] + 1
    assert max(depth.values()) <= sunburst.MAX_LEVELS + 1
    small = sunburst.build(rows, max_nodes=50)
    assert len(small["ids"]) <= 50 and small["values"][0] == out["values"][0]
    assert sunburst.build([("s", b"", 2, 10), ("t", b"a", 1, 5)])["labels"] == ["All", "s", "t", "a"]
    assert sunburst.build([("s", b"a/b", 2, 10)])["labels"] == ["s", "a", "b"]  # one source: the centre
    odd = sunburst.build([("s", b"caf\xe9/x", 1, 5)])
    assert "caf\ufffd" in odd["labels"]
