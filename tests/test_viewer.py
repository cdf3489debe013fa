"""The web viewer through Flask's test client, against a small corpus library built by the real CLI:
every route, and what a hostile or sloppy request gets (bad ids, path traversal, CSRF, foreign Host,
malformed filters)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gallerfs.db import sources as sources_db
from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.search import Filters
from gallerfs.units import human_bytes
from gallerfs.indexer.thumbnails import thumbnail_path
from tests.conftest import gallerfs_env, run_gallerfs
from tests.mountutil import build_library
from tests.viewer_support import HOST, free_port, iter_links, make_app
from gallerfs.viewer import urlfilters
from gallerfs.viewer.security import CSP

PAGES = ("/", "/search", "/search?q=dog", "/albums", "/sources", "/jobs")


@pytest.fixture(scope="module")
def corpus_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    library, _ = build_library(tmp_path_factory.mktemp("viewer"))
    return library


@pytest.fixture
def app(corpus_library: Path):
    return make_app(corpus_library, SSE_MAX_S=0.0, SSE_INTERVAL_S=0.01)


@pytest.fixture
def client(app):
    return app.test_client()


def get(client, url: str, **headers: str):
    return client.get(url, headers={**HOST, **headers})


def post(client, app, url: str, token: bool = True, **kw):
    headers = {**HOST, **kw.pop("headers", {})}
    if token:
        headers["X-CSRF-Token"] = app.config["CSRF_TOKEN"]
    return client.post(url, headers=headers, **kw)


def reader(library: Path) -> Database:
    return Database(library / "library.sqlite3", readonly=True)


def ids_in_order(library: Path, **filters: object) -> list[int]:
    with reader(library) as db:
        return vq.ordered_ids(db, Filters(**filters).to_spec())  # type: ignore[arg-type]


def items(library: Path, **filters: object) -> list[vq.GridItem]:
    with reader(library) as db:
        return vq.items_by_ids(db, ids_in_order(library, **filters))


def test_every_page_renders_with_strict_headers_and_no_remote_asset(client, corpus_library: Path) -> None:
    first = ids_in_order(corpus_library)[0]
    for url in (*PAGES, f"/photo/{first}"):
        r = get(client, url)
        assert r.status_code == 200, (url, r.data[:300])
        assert r.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "default-src 'self'" in CSP
        assert r.headers["X-Frame-Options"] == "DENY"
        html = r.get_data(as_text=True)
        assert "<script>" not in html and "style=" not in html  # the CSP would block inline code and styles
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", html), url  # no inline event handler
        assert not re.search(r"https?://", html), url
        for link in iter_links(html):
            assert link.startswith("/") or link.startswith("data:"), (url, link)
        assert 'name="csrf-token"' in html


def test_packaged_assets_name_no_remote_url() -> None:
    root = Path(__file__).resolve().parent.parent / "viewer"
    for path in [*root.glob("static/**/*"), *root.glob("templates/**/*")]:
        if path.is_file() and "vendor" not in path.relative_to(root).parts:  # vendored: test_viewer_vendor
            assert not re.search(r"https?://", path.read_text()), path


def test_static_assets_are_served(client) -> None:
    for name in ("app.css", "common.js", "grid.js", "photo.js", "jobs.js"):  # every file in viewer/static
        assert get(client, f"/static/{name}").status_code == 200, name


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:8765", "localhost:9999", "192.168.1.5:8765",
                                  "", "localhost:8765@evil", "0.0.0.0:8765"])  # fmt: skip
def test_a_foreign_host_header_is_refused(client, host: str) -> None:
    r = client.get("/", headers={"Host": host})
    assert r.status_code == 403
    assert "loopback" in r.get_data(as_text=True) or "127.0.0.1" in r.get_data(as_text=True)
    assert client.get("/api/grid", headers={"Host": host}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST:8765"])
def test_loopback_hosts_are_served(client, host: str) -> None:
    assert client.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1e3", "1.5", "0x10", "99999999999999999999", " 1", "1;drop"])
def test_malformed_ids_are_400_with_a_message(client, bad: str) -> None:
    for url in (f"/photo/{bad}", f"/thumb/{bad}/grid", f"/original/{bad}", f"/api/favourite/{bad}"):
        r = get(client, url) if "favourite" not in url else client.post(url, headers=HOST)
        if "favourite" in url:
            assert r.status_code == 403  # no token: refused before anything else
            continue
        assert r.status_code == 400, (url, r.status_code)
        text = r.get_data(as_text=True)
        assert "positive integer" in text and "Traceback" not in text


def test_unknown_ids_and_sizes(client, corpus_library: Path) -> None:
    assert get(client, "/photo/424242").status_code == 404
    assert get(client, "/thumb/424242/grid").status_code == 404
    assert get(client, "/original/424242").status_code == 404
    first = ids_in_order(corpus_library)[0]
    r = get(client, f"/thumb/{first}/huge")
    assert r.status_code == 400 and b"grid, preview" in r.data
    assert get(client, "/no/such/page").status_code == 404


@pytest.mark.parametrize("url", [
    "/original/../../etc/passwd", "/original/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/original/1/../../../etc/passwd",
    "/thumb/..%2f..%2fetc%2fpasswd/grid", "/thumb/1/..%2f..%2f..%2fetc%2fpasswd", "/static/../library.sqlite3",
    "/static/..%2f..%2fpyproject.toml", "/original//etc/passwd", "/photo/%00",
])  # fmt: skip
def test_path_traversal_reads_nothing(client, url: str) -> None:
    r = get(client, url)
    assert r.status_code in (400, 404), (url, r.status_code)
    body = r.get_data(as_text=True)
    assert "root:" not in body and "[project]" not in body and "SQLite format" not in body


def test_post_needs_the_csrf_token_and_the_same_origin(client, app, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library)[-1]
    url = f"/api/favourite/{fid}"
    assert post(client, app, url, token=False, json={"favourite": True}).status_code == 403
    r = client.post(url, json={"favourite": True}, headers={**HOST, "X-CSRF-Token": "wrong"})
    assert r.status_code == 403 and "CSRF" in r.get_json()["error"]
    r = post(client, app, url, json={"favourite": True}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    assert get(client, url).status_code == 405  # no change by GET
    with reader(corpus_library) as db:
        assert not tree_db.file_details(db, fid)["favourite"]
    r = post(client, app, url, json={"favourite": True}, headers={"Origin": "http://127.0.0.1:8765"})
    assert r.status_code == 200 and r.get_json() == {"id": fid, "favourite": True}
    with reader(corpus_library) as db:
        assert tree_db.file_details(db, fid)["favourite"]
    assert post(client, app, url, json={"favourite": "yes"}).status_code == 400
    assert post(client, app, url, data="not json").status_code == 400
    assert post(client, app, "/api/favourite/424242", json={"favourite": True}).status_code == 404
    r = post(client, app, url, json={"favourite": False})
    assert r.status_code == 200
    with reader(corpus_library) as db:
        assert not tree_db.file_details(db, fid)["favourite"]


def test_the_photo_page_favourite_form(client, app, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library)[0]
    page = get(client, f"/photo/{fid}?kind=image").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
    action = re.search(r'<form method="post" action="([^"]+)"', page)[1].replace("&amp;", "&")
    assert action == f"/photo/{fid}/favourite?kind=image"
    assert client.post(action, data={"favourite": "1"}, headers=HOST).status_code == 403
    r = client.post(action, data={"favourite": "1", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/photo/{fid}?kind=image")
    assert "★ Favourite" in get(client, f"/photo/{fid}").get_data(as_text=True)
    assert get(client, "/api/grid?favourites=1").get_json()["total"] == 1
    client.post(action, data={"favourite": "0", "csrf_token": token}, headers=HOST)
    assert get(client, "/api/grid?favourites=1").get_json()["total"] == 0
    r = client.post(action, data={"favourite": "perhaps", "csrf_token": token}, headers=HOST)
    assert r.status_code == 400


@pytest.mark.parametrize("query", [
    "since=bogus", "since=2023-13", "until=2023-02-30", "since=2024&until=2023", "kind=banana", "favourites=maybe",
    "has_gps=2", "camera=" + "x" * 300, "kind=image&kind=video", "source=nosuchsource", "album=nosuchalbum",
    "camera=a%00b", "offset=-1", "limit=0", "limit=100000", "offset=abc",
])  # fmt: skip
def test_malformed_filters_are_400_with_one_line(client, query: str) -> None:
    r = get(client, f"/api/grid?{query}")
    assert r.status_code == 400, query
    message = r.get_json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    if not query.startswith(("offset", "limit")):
        for page in ("/", "/search"):
            r = get(client, f"{page}?{query}")
            assert r.status_code == 400 and "Traceback" not in r.get_data(as_text=True), (page, query)


def test_an_oversized_query_is_400(client) -> None:
    assert get(client, "/search?q=" + "a" * 1001).status_code == 400


def test_filters_round_trip_through_the_url() -> None:
    full = Filters(since="2020", until="2023-07", camera="Canon EOS", source="photos", album="Trip",
                   favourites=True, kind="video", has_gps=False, journaled=True)  # fmt: skip
    assert urlfilters.parse(urlfilters.to_args(full)) == full
    assert urlfilters.parse(urlfilters.to_args(Filters(has_gps=True))) == Filters(has_gps=True)
    assert urlfilters.query_string(Filters()) == ""
    assert urlfilters.parse({"since": "", "has_gps": "", "favourites": "0"}) == Filters()


def test_grid_api_pages_the_whole_filtered_view(client, corpus_library: Path) -> None:
    whole = get(client, "/api/grid?limit=1000").get_json()
    assert whole["total"] == len(whole["items"]) == 9
    paged = []
    for offset in range(0, 9, 4):
        page = get(client, f"/api/grid?offset={offset}&limit=4").get_json()
        assert page["total"] == 9 and page["offset"] == offset
        paged.extend(page["items"])
    assert paged == whole["items"]
    assert len({i["id"] for i in paged}) == 9
    videos = get(client, "/api/grid?kind=video").get_json()
    assert videos["total"] == 1 and videos["items"][0]["kind"] == "video"
    assert get(client, "/api/grid?since=2100").get_json() == {"total": 0, "offset": 0, "items": []}
    assert any(i["name"] == "caf\ufffd.jpg" for i in whole["items"])  # a non-UTF-8 name, shown
    assert all(i["online"] for i in whole["items"])
    # Newest first, by the same key the photo page steps through.
    assert [i["id"] for i in whole["items"]] == ids_in_order(corpus_library)


def test_previous_and_next_follow_the_filtered_view(client, corpus_library: Path) -> None:
    for filters, qs in (({}, ""), ({"kind": "image"}, "?kind=image")):
        order = ids_in_order(corpus_library, **filters)
        for pos, fid in enumerate(order):
            html = get(client, f"/photo/{fid}{qs}").get_data(as_text=True)
            prev = re.search(r'rel="prev" href="/photo/(\d+)', html)
            nxt = re.search(r'rel="next" href="/photo/(\d+)', html)
            assert (int(prev[1]) if prev else None) == (order[pos - 1] if pos else None)
            assert (int(nxt[1]) if nxt else None) == (order[pos + 1] if pos + 1 < len(order) else None)
            if qs:
                assert f'href="/photo/{nxt[1] if nxt else order[pos - 1]}{qs}"' in html


def test_previous_and_next_are_found_by_sort_key_also_outside_the_view(tmp_path: Path) -> None:
    from gallerfs.db import files as files_db
    from gallerfs.db.state import bump_generation
    from gallerfs.viewer.views import Views
    from tests.viewer_support import START_S, build_large_library

    library = build_large_library(tmp_path, 30, thumbs_at_ends=1)
    with Database(library / "library.sqlite3") as db, db.transaction():
        for fid in range(5, 12):  # ties: seven files taken at the same second, ordered by id among them
            files_db.store_result(db, fid, metadata={"sort_time": START_S + 20 * 3000 + 0.5, "latitude": 1.0 if fid % 2
                                  else None, "longitude": 2.0}, content_hash=None, partial_hash=None, phash=None,
                                  dhash=None, error=None)  # fmt: skip
        bump_generation(db)
    views = Views()
    with reader(library) as db:
        everything = vq.ordered_ids(db, Filters().to_spec())
        for filters in (Filters(), Filters(has_gps=True), Filters(has_gps=False), Filters(since="2030")):
            spec = filters.to_spec()
            view = vq.ordered_ids(db, spec)
            for fid in everything:
                at = everything.index(fid)
                before = [i for i in everything[:at] if i in view]
                after = [i for i in everything[at + 1 :] if i in view]
                expected = (before[-1] if before else None, after[0] if after else None)
                assert views.neighbours(db, spec, fid) == expected, (filters, fid)
        assert views.neighbours(db, Filters().to_spec(), 10**9) == (None, None)


def test_the_photo_page_shows_the_exif_sidebar(client, corpus_library: Path) -> None:
    canon = next(i for i in items(corpus_library, camera="40D") if i.name == "Canon_40D.jpg")
    html = get(client, f"/photo/{canon.id}").get_data(as_text=True)
    for label in ("Taken", "Camera", "Exposure", "Dimensions", "Size", "Source", "Path"):
        assert f"<dt>{label}</dt>" in html, label
    assert "Canon EOS 40D" in html and "cams/Canon_40D.jpg" in html and f"/original/{canon.id}" in html


def test_thumbnails_are_cached_by_content_hash(client, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library, kind="image")[0]
    item = get(client, "/api/grid?kind=image&limit=1").get_json()["items"][0]
    assert item["id"] == fid
    with reader(corpus_library) as db:
        content_hash = db.value("SELECT content_hash FROM files WHERE id = ?", (fid,))
    assert item["thumb_key"] == content_hash
    r = get(client, f"/thumb/{fid}/grid?v={item['thumb_key']}")
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    assert r.data == thumbnail_path(corpus_library / "thumbnails", fid, "grid").read_bytes()
    assert "immutable" in r.headers["Cache-Control"] and "max-age=31536000" in r.headers["Cache-Control"]
    assert r.headers["ETag"].strip('"') == f"{content_hash}-grid"
    again = get(client, f"/thumb/{fid}/grid?v={item['thumb_key']}", **{"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    stale = get(client, f"/thumb/{fid}/preview?v=oldkey")
    assert stale.status_code == 200 and "no-cache" in stale.headers["Cache-Control"]


def test_thumbnails_answered_before_flask_match_the_flask_route(client, corpus_library: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from gallerfs.viewer import fastthumbs

    fid = ids_in_order(corpus_library, kind="image")[0]
    key = get(client, "/api/grid?kind=image&limit=1").get_json()["items"][0]["thumb_key"]
    url = f"/thumb/{fid}/grid?v={key}"
    fast = get(client, url)
    calls: list[str] = []
    real = fastthumbs.FastThumbnails.__call__

    def spy(self, environ, start_response):
        calls.append(environ["PATH_INFO"])
        return real(self, environ, start_response)

    flask_route = get(client, url, Range="bytes=0-")  # a Range request goes to the Flask route
    assert flask_route.status_code == 206 and flask_route.data == fast.data
    for name in ("ETag", "Cache-Control", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                 "Referrer-Policy", "Cross-Origin-Resource-Policy"):  # fmt: skip
        assert fast.headers[name] == flask_route.headers[name], name
    assert fast.headers["Content-Length"] == str(len(fast.data)) and fast.mimetype == "image/jpeg"
    head = client.head(url, headers=HOST)
    assert head.status_code == 200 and head.data == b"" and head.headers["ETag"] == fast.headers["ETag"]
    assert get(client, url, **{"If-None-Match": f'W/"x", {fast.headers["ETag"]}'}).status_code == 304
    assert get(client, url, **{"If-None-Match": '"other"'}).status_code == 200
    # What the fast path cannot answer still gets the app's answer: foreign Host, unknown id, bad size.
    assert client.get(url, headers={"Host": "evil.example:8765"}).status_code == 403
    assert get(client, "/thumb/999999/grid").status_code == 404
    assert get(client, f"/thumb/{fid}/huge").status_code == 400
    assert get(client, f"/thumb/0{fid}/grid").status_code == 400
    monkeypatch.setattr(fastthumbs.FastThumbnails, "__call__", spy)
    assert get(client, "/").status_code == 200 and calls == ["/"]  # every request passes through it


def test_a_missing_thumbnail_is_404_with_a_hint(client, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library)[0]
    path = thumbnail_path(corpus_library / "thumbnails", fid, "preview")
    saved = path.read_bytes()
    path.unlink()
    try:
        r = get(client, f"/thumb/{fid}/preview")
        assert r.status_code == 404 and b"gallerfs index" in r.data
    finally:
        path.write_bytes(saved)


def test_originals_support_range_requests(client, corpus_library: Path) -> None:
    video = items(corpus_library, kind="video")[0]
    with reader(corpus_library) as db:
        data = Path(tree_db.file_location(db, video.id).path.decode()).read_bytes()
    r = get(client, f"/original/{video.id}")
    assert r.status_code == 200 and r.mimetype == "video/mp4" and r.data == data
    assert r.headers["Accept-Ranges"] == "bytes"
    part = get(client, f"/original/{video.id}", Range="bytes=100-199")
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = get(client, f"/original/{video.id}", Range="bytes=-10")
    assert tail.status_code == 206 and tail.data == data[-10:]
    assert get(client, f"/original/{video.id}", Range=f"bytes={len(data) + 5}-").status_code == 416


def test_an_offline_original_says_drive_offline(client, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library, kind="image")[0]
    with Database(corpus_library / "library.sqlite3") as db:
        source = sources_db.list_sources(db)[0]
        sources_db.set_presence(db, source.id, online=False, reason="test: unplugged")
    try:
        r = get(client, f"/original/{fid}")
        assert r.status_code == 503 and b"drive offline" in r.data
        page = get(client, f"/photo/{fid}").get_data(as_text=True)
        assert "Drive offline" in page and f'href="/original/{fid}"' not in page
        assert not any(i["online"] for i in get(client, "/api/grid").get_json()["items"])
    finally:
        with Database(corpus_library / "library.sqlite3") as db:
            sources_db.set_presence(db, source.id, online=True, reason=None)


def test_the_online_filter_follows_the_sources_presence(client, corpus_library: Path) -> None:
    total = len(ids_in_order(corpus_library))
    assert get(client, "/api/grid?online=1").get_json()["total"] == total
    assert get(client, "/api/grid?online=0").get_json()["total"] == 0
    with Database(corpus_library / "library.sqlite3") as db:
        source = sources_db.list_sources(db)[0]
        sources_db.set_presence(db, source.id, online=False, reason="test: unplugged")
    try:
        assert get(client, "/api/grid?online=0").get_json()["total"] == total
        page = get(client, "/?online=1").get_data(as_text=True)
        assert "No photo matches these filters" in page
        page = get(client, "/?online=0").get_data(as_text=True)
        assert '<option value="0" selected>offline</option>' in page and 'data-filters="?online=0"' in page
        assert 'href="/search?online=0"' in page  # the selection carries to the other pages
    finally:
        with Database(corpus_library / "library.sqlite3") as db:
            sources_db.set_presence(db, source.id, online=True, reason=None)
    assert get(client, "/api/grid?online=maybe").status_code == 400
    assert urlfilters.parse({"online": "0"}) == Filters(online=False)
    assert urlfilters.to_args(Filters(online=True)) == {"online": "1"}


def test_a_vanished_original_is_404_not_a_crash(client, corpus_library: Path) -> None:
    item = next(i for i in items(corpus_library) if i.name == "Pentax_K10D.jpg")
    with reader(corpus_library) as db:
        path = Path(tree_db.file_location(db, item.id).path.decode())
    saved = path.read_bytes()
    path.unlink()
    try:
        r = get(client, f"/original/{item.id}")
        assert r.status_code == 404 and b"rescan" in r.data
    finally:
        path.write_bytes(saved)


def test_similar_without_a_model_explains(client, corpus_library: Path) -> None:
    """Nothing embedded and no model installed: the same one line as 'gallerfs similar' (exit 5)."""
    fid = ids_in_order(corpus_library)[0]
    r = get(client, f"/search?similar={fid}")
    assert r.status_code == 200 and "gallerfs models install" in r.get_data(as_text=True)


def test_search_without_a_model_explains_and_still_filters(client) -> None:
    r = get(client, "/search?q=dog+on+the+beach&kind=video")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "no CLIP model is installed" in html and "gallerfs models install" in html
    assert 'data-total="1"' in html and 'data-filters="?kind=video"' in html
    assert 'value="dog on the beach"' in html
    plain = get(client, "/search?kind=image").get_data(as_text=True)
    assert "no CLIP model" not in plain and 'data-total="8"' in plain


def test_sources_page_shows_status_and_counts(client, corpus_library: Path) -> None:
    html = get(client, "/sources").get_data(as_text=True)
    assert "photos" in html and "online" in html and '<td class="num">9</td>' in html
    with reader(corpus_library) as db:
        total = sum(tree_db.file_details(db, i)["size"] for i in ids_in_order(corpus_library))
    assert f'<td class="num">{human_bytes(total)}</td>' in html
    assert "Last scan" in html and "never" not in html.split("<tbody>")[1]


def test_jobs_page_and_event_stream(client) -> None:
    html = get(client, "/jobs").get_data(as_text=True)
    assert "scan" in html and "process" in html and 'data-events="/events/jobs"' in html
    jobs = get(client, "/api/jobs").get_json()["jobs"]
    assert {j["kind"] for j in jobs} >= {"scan", "process"} and all(j["state"] == "done" for j in jobs)
    r = get(client, "/events/jobs")
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    text = r.get_data(as_text=True)  # SSE_MAX_S=0: one event, then the stream ends (the browser reconnects)
    r.close()
    assert text.startswith("retry: ")
    event = re.search(r"^event: jobs\ndata: (.*)$", text, flags=re.M)
    assert json.loads(event[1]) == jobs


def test_an_internal_error_is_one_line_never_a_traceback(client, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> int:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(vq, "camera_names", boom)
    monkeypatch.setattr(vq, "items_by_ids", boom)
    r = get(client, "/")
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    assert "internal error: RuntimeError" in text and "Traceback" not in text and "secret detail" not in text
    assert get(client, "/api/grid").get_json() == {"error": "internal error: RuntimeError (see the server's log)"}


def test_an_empty_library_explains_what_to_do(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    (tmp_path / "empty").mkdir()
    run_gallerfs(library, "add", str(tmp_path / "empty"))
    client = make_app(library).test_client()
    for url, expected in (("/", "gallerfs add FOLDER"), ("/search?q=cat", "no CLIP model"),
                          ("/jobs", "No job has run"), ("/sources", "empty"), ("/?group=day", "holds no photo"),
                          ("/search", "Sources</a> page"), ("/?has_gps=1&online=0", "The library is empty"),
                          ("/albums", "No album yet")):  # fmt: skip
        r = get(client, url)
        assert r.status_code == 200 and expected in r.get_data(as_text=True), url
    for url in ("/api/grid", "/api/years", "/api/groups?by=day"):
        r = get(client, url)
        assert r.status_code == 200 and not any(v for k, v in r.get_json().items() if k not in ("by", "offset")), url


def test_an_empty_filtered_view_says_which_filter_empties_it(tmp_path: Path) -> None:
    from gallerfs.db import albums as albums_db
    from tests.viewer_support import build_large_library

    library = build_large_library(tmp_path, 50, thumbs_at_ends=1)  # no metadata: no GPS, no dates
    with Database(library / "library.sqlite3") as db:
        albums_db.create_album(db, "Trip")
        albums_db.add_to_album(db, "Trip", [1])
    client = make_app(library).test_client()

    def why(url: str) -> str:
        r = get(client, url)
        assert r.status_code == 200, url
        page = r.get_data(as_text=True)
        assert "No photo matches these filters" in page and 'id="grid"' not in page, url
        return " ".join(re.findall(r'<p class="why">(.*?)</p>', page))

    assert "No photo in the library has a GPS position" in why("/?has_gps=1")
    assert "No favourite yet" in why("/?favourites=1&has_gps=0")  # the first filter that empties it alone
    assert "Every source is online" in why("/?online=0")
    assert "no video file" in why("/search?kind=video")
    assert "date range" in why("/?since=2011&until=2012")
    assert "Every source is online" in why("/?album=Trip&online=0")
    with Database(library / "library.sqlite3") as db:
        albums_db.add_favourites(db, [2])
    assert "all of them together" in why("/?album=Trip&favourites=1")


def test_no_library_is_a_clear_error(tmp_path: Path) -> None:
    client = make_app(tmp_path / "nothing-here").test_client()
    r = get(client, "/")
    assert r.status_code == 400 and b"gallerfs add FOLDER" in r.data
    proc = run_gallerfs(tmp_path / "nothing-here", "serve", check=False)
    assert proc.returncode != 0 and "no library" in proc.stderr and "Traceback" not in proc.stderr


def test_gallerfs_serve_listens_on_loopback_only(corpus_library: Path, tmp_path: Path) -> None:
    port = free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "serve", "--port", str(port)],
                            env=gallerfs_env(corpus_library), stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200 and b"gallerfs" in response.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers={"Host": f"evil.example:{port}"}), timeout=5)
        assert refused.value.code == 403
        listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout
        local = [line.split()[3] for line in listening.splitlines()]
        assert local == [f"127.0.0.1:{port}"], listening
        # A second server on the same port says so in one line.
        second = run_gallerfs(corpus_library, "serve", "--port", str(port), check=False, timeout=60)
        assert second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stderr
        assert "Traceback" not in second.stderr
        proc.send_signal(signal.SIGINT)  # Ctrl+C
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    text = (tmp_path / "serve.log").read_text()
    assert f"serving the library at http://127.0.0.1:{port}/" in text and "viewer stopped" in text
    assert "Traceback" not in text


def test_serve_rejects_a_bad_port(corpus_library: Path) -> None:
    proc = run_gallerfs(corpus_library, "serve", "--port", "70000", check=False)
    assert proc.returncode == 2 and "65535" in proc.stderr


def test_a_file_without_thumbnail_gets_a_placeholder_not_a_broken_image(client, corpus_library: Path) -> None:
    fid = ids_in_order(corpus_library)[0]
    path = thumbnail_path(corpus_library / "thumbnails", fid, "grid")
    saved = path.read_bytes()
    path.unlink()
    try:
        by_id = {i["id"]: i for i in get(client, "/api/grid").get_json()["items"]}
        assert by_id[fid]["thumb"] is False and all(i["thumb"] for k, i in by_id.items() if k != fid)
    finally:
        path.write_bytes(saved)


def test_views_follow_the_library_generation(corpus_library: Path, tmp_path: Path) -> None:
    """A cached view's order is dropped as soon as the library changes (here: a new album)."""
    from gallerfs.db import albums as albums_db
    from gallerfs.viewer.views import ViewCache

    cache = ViewCache(vq.ordered_ids, max_views=2)
    spec = Filters(album="Viewer test").to_spec()
    with Database(corpus_library / "library.sqlite3") as db:
        albums_db.create_album(db, "Viewer test")
        try:
            with reader(corpus_library) as rdb:
                assert cache.get(rdb, spec) == []
                albums_db.add_to_album(db, "Viewer test", ids_in_order(corpus_library)[:2])
                assert cache.get(rdb, spec) == ids_in_order(corpus_library)[:2]
                for kind in ("image", "video", "raw"):
                    cache.get(rdb, Filters(kind=kind).to_spec())
                assert len(cache._views) == 2
        finally:
            albums_db.delete_album(db, "Viewer test")


def test_the_camera_choices_follow_the_library(tmp_path: Path) -> None:
    from gallerfs.db import files as files_db
    from gallerfs.db.state import bump_generation
    from tests.viewer_support import build_large_library

    library = build_large_library(tmp_path, 20, thumbs_at_ends=1)
    client = make_app(library).test_client()
    assert "Zeiss Ikon" not in get(client, "/").get_data(as_text=True)
    with Database(library / "library.sqlite3") as db, db.transaction():
        files_db.store_result(db, 3, metadata={"make": "Zeiss", "model": "Ikon"}, content_hash=None, partial_hash=None,
                              phash=None, dhash=None, error=None)  # fmt: skip
        bump_generation(db)  # as the indexer does after each batch
    assert '<option value="Zeiss Ikon">' in get(client, "/").get_data(as_text=True)


def test_search_with_a_model_ranks_and_filters(tmp_path: Path) -> None:
    """With the small test CLIP model installed: 'red' lists the red photos first, filters narrow it."""
    pytest.importorskip("onnx")
    from tests import clipmodel

    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = tmp_path / "Photos"
    (photos / "2023").mkdir(parents=True)
    (photos / "2024").mkdir()
    for i in range(2):
        clipmodel.colour_photo(photos / "2023" / f"red{i}.jpg", "red", i)
        clipmodel.colour_photo(photos / "2024" / f"green{i}.jpg", "green", 10 + i)
    clipmodel.colour_photo(photos / "2024" / "red_late.jpg", "red", 20)
    for year in (2023, 2024):  # undated files are filed by their modification time
        stamp = time.mktime((year, 6, 1, 12, 0, 0, 0, 0, -1))
        for photo in (photos / str(year)).iterdir():
            os.utime(photo, (stamp, stamp))
    folder = tmp_path / "model-files"
    manifest = clipmodel.write_model_dir(folder)
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(library, "index")
    client = make_app(library).test_client()

    html = get(client, "/search?q=red").get_data(as_text=True)
    assert "no CLIP model" not in html and "best matches for “red”" in html
    names = re.findall(r'<a class="tile[^"]*" href="/photo/\d+" title="([^"]+)"', html)
    assert names[:3] and set(names[:3]) == {"red0.jpg", "red1.jpg", "red_late.jpg"}, names
    assert 'id="grid"' not in html  # ranked results, not the whole filtered view
    dated = get(client, "/search?q=red&since=2024").get_data(as_text=True)
    names = re.findall(r'title="([^"]+)"', dated.split('class="results"')[1])
    assert names[0] == "red_late.jpg" and not {"red0.jpg", "red1.jpg"} & set(names)
    assert "/photo/" in dated and "?since=2024" in dated  # the photo page keeps the filters

    # "Similar photos" from a photo page: the other red photos first, the photo itself left out.
    red0 = next(i for i in items(library) if i.name == "red0.jpg")
    photo_page = get(client, f"/photo/{red0.id}?since=2023").get_data(as_text=True)
    link = re.search(r'id="similar" href="([^"]+)"', photo_page)[1].replace("&amp;", "&")
    assert link == f"/search?since=2023&similar={red0.id}"
    html = get(client, f"/search?similar={red0.id}").get_data(as_text=True)
    assert "most like" in html and f'name="similar" value="{red0.id}"' in html
    names = re.findall(r'title="([^"]+)"', html.split('class="results"')[1])
    assert set(names[:2]) == {"red1.jpg", "red_late.jpg"} and "red0.jpg" not in names
    narrowed = get(client, f"/search?similar={red0.id}&since=2024").get_data(as_text=True)
    assert re.findall(r'title="([^"]+)"', narrowed.split('class="results"')[1])[0] == "red_late.jpg"
    assert get(client, f"/search?similar={red0.id}&q=red").status_code == 400
    assert get(client, "/search?similar=abc").status_code == 400
    assert get(client, "/search?similar=424242").status_code == 404


def test_jobs_page_lists_failures_with_undecodable_names(client, corpus_library: Path) -> None:
    from gallerfs.db import files as files_db

    fid = ids_in_order(corpus_library)[0]
    with Database(corpus_library / "library.sqlite3") as db:
        source = sources_db.list_sources(db)[0]
        with db.transaction():
            files_db.record_failure(db, source_id=source.id, file_id=fid, job_id=None, path=b"odd/caf\xe9 <b>.jpg",
                                    stage="thumbnail", error="cannot decode <image>")  # fmt: skip
    try:
        html = get(client, "/jobs").get_data(as_text=True)
        assert "odd/caf\ufffd &lt;b&gt;.jpg" in html and "cannot decode &lt;image&gt;" in html
        assert "<b>" not in html
    finally:
        with Database(corpus_library / "library.sqlite3") as db, db.transaction():
            files_db.clear_failures(db, fid)


def test_serve_open_starts_the_browser_with_xdg_open(corpus_library: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opened = tmp_path / "opened.txt"
    fake = bin_dir / "xdg-open"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {opened}\n")
    fake.chmod(0o755)
    port = free_port()
    env = gallerfs_env(corpus_library)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "serve", "--port", str(port), "--open"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not opened.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.2)
        assert opened.read_text().strip() == f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_live_streams_are_capped_and_released(app, client) -> None:
    from gallerfs.viewer import api

    responses = [get(client, "/events/jobs") for _ in range(api.MAX_STREAMS)]
    assert all(r.status_code == 200 for r in responses)
    refused = get(client, "/events/jobs")
    assert refused.status_code == 503 and "live pages" in refused.get_json()["error"]
    for r in responses:
        r.close()
    for _ in range(api.MAX_STREAMS + 1):  # every slot came back
        r = get(client, "/events/jobs")
        assert r.status_code == 200
        r.close()


SQL = re.compile(r"\bSELECT\b.+\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b", re.I)


def test_the_viewer_holds_no_sql() -> None:
    """Reads and writes go through gallerfs/db/ (viewer_queries, tree, albums, ...), never SQL of its own."""
    root = Path(__file__).resolve().parent.parent / "viewer"
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert not SQL.search(text), path
        assert "import apsw" not in text and "import sqlite3" not in text, path
    assert SQL.search('db.rows("SELECT f.id, s.name FROM files f")')  # the check would notice


def _token(client) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', get(client, "/albums").get_data(as_text=True))[1]


def test_albums_create_rename_delete_through_the_library(client, corpus_library: Path) -> None:
    token = _token(client)
    assert client.post("/albums/create", data={"name": "Web"}, headers=HOST).status_code == 403  # no token
    r = client.post("/albums/create", data={"name": "Web", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303 and r.headers["Location"].endswith("/albums")
    html = get(client, "/albums").get_data(as_text=True)
    assert 'href="/?album=Web"' in html and "data-confirm" in html
    again = client.post("/albums/create", data={"name": "Web", "csrf_token": token}, headers=HOST)
    assert again.status_code == 400 and b"already exists" in again.data
    for bad in ("a/b", "..", "", "x" * 300):
        r = client.post("/albums/create", data={"name": bad, "csrf_token": token}, headers=HOST)
        assert r.status_code == 400 and b"Traceback" not in r.data, bad
    r = client.post("/albums/rename", data={"name": "Web", "new_name": "Web 2", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303
    with reader(corpus_library) as db:
        assert [a.name for a in tree_db.list_albums(db)] == ["Web 2"]
    r = client.post("/albums/rename", data={"name": "Nope", "new_name": "X", "csrf_token": token}, headers=HOST)
    assert r.status_code == 400 and b"no album named" in r.data
    assert client.post("/albums/delete", data={"name": "Web 2", "csrf_token": token}, headers=HOST).status_code == 303
    with reader(corpus_library) as db:
        assert tree_db.list_albums(db) == []
    assert "No album yet" in get(client, "/albums").get_data(as_text=True)


def test_save_the_filtered_view_as_a_new_or_existing_album(client, corpus_library: Path) -> None:
    token = _token(client)
    grid = get(client, "/?kind=video").get_data(as_text=True)
    action = re.search(r'<form class="save-view" method="post" action="([^"]+)"', grid)[1].replace("&amp;", "&")
    assert action == "/albums/save-view?kind=video" and "Save this file to" in grid
    assert client.post(action, data={"new_name": "Clips"}, headers=HOST).status_code == 403
    r = client.post(action, data={"new_name": "Clips", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303 and r.headers["Location"].endswith("/?album=Clips")
    try:
        assert get(client, "/api/grid?album=Clips").get_json()["total"] == 1
        r = client.post("/albums/save-view?since=2019-03-04&until=2019-03-04", data={"album": "Clips", "csrf_token": token},
                        headers=HOST)  # fmt: skip
        assert r.status_code == 303
        names = {i["name"] for i in get(client, "/api/grid?album=Clips").get_json()["items"]}
        assert names == {"clip.mp4", "undated.jpg"}
        for data, message in (({"album": "Nope"}, b"no album named"), ({}, b"album is empty"),
                              ({"new_name": "Clips"}, b"already exists")):  # fmt: skip
            r = client.post(action, data={**data, "csrf_token": token}, headers=HOST)
            assert r.status_code == 400 and message in r.data, data
        r = client.post("/albums/save-view?since=2100", data={"new_name": "Future", "csrf_token": token}, headers=HOST)
        assert r.status_code == 400 and b"nothing to save" in r.data
        assert client.post("/albums/save-view?kind=banana", data={"new_name": "B", "csrf_token": token},
                           headers=HOST).status_code == 400  # fmt: skip
    finally:
        client.post("/albums/delete", data={"name": "Clips", "csrf_token": token}, headers=HOST)
    with reader(corpus_library) as db:
        assert tree_db.list_albums(db) == []


@pytest.mark.timeout(120)
def test_an_album_saved_in_the_viewer_is_in_the_mount(client, corpus_library: Path, tmp_path: Path) -> None:
    from tests.mountutil import Mount, wait_until

    token = _token(client)
    with Mount(corpus_library, tmp_path / "mnt") as mnt:
        r = client.post("/albums/save-view?kind=video", data={"new_name": "From viewer", "csrf_token": token},
                        headers=HOST)  # fmt: skip
        assert r.status_code == 303
        try:
            folder = mnt.path / "by-album" / "From viewer"
            assert wait_until(lambda: folder.is_dir() and os.listdir(folder) == ["clip.mp4"], timeout=10)
        finally:
            client.post("/albums/delete", data={"name": "From viewer", "csrf_token": token}, headers=HOST)
        assert wait_until(lambda: not folder.exists(), timeout=10)


def test_the_photo_page_adds_to_and_removes_from_albums(client, corpus_library: Path) -> None:
    token = _token(client)
    fid = ids_in_order(corpus_library)[1]
    url = f"/photo/{fid}/albums?kind=image"
    assert client.post(url, data={"new_name": "Picks"}, headers=HOST).status_code == 403
    r = client.post(url, data={"new_name": "Picks", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/photo/{fid}?kind=image")
    try:
        html = get(client, f"/photo/{fid}").get_data(as_text=True)
        assert 'href="/?album=Picks">Picks</a>' in html and 'name="remove" value="Picks"' in html
        assert "<option>Picks</option>" not in html.split('class="add-album"')[1]  # already in it
        other = ids_in_order(corpus_library)[2]
        assert client.post(f"/photo/{other}/albums", data={"album": "Picks", "csrf_token": token},
                           headers=HOST).status_code == 303  # fmt: skip
        assert get(client, "/api/grid?album=Picks").get_json()["total"] == 2
        for data, status in (({"album": "Nope"}, 400), ({"new_name": "a/b"}, 400), ({}, 400),
                             ({"remove": "Nope"}, 400)):  # fmt: skip
            r = client.post(url, data={**data, "csrf_token": token}, headers=HOST)
            assert r.status_code == status and b"Traceback" not in r.data, data
        assert client.post("/photo/424242/albums", data={"album": "Picks", "csrf_token": token},
                           headers=HOST).status_code == 404  # fmt: skip
        assert client.post("/photo/x/albums", data={"csrf_token": token}, headers=HOST).status_code == 400
        r = client.post(url, data={"remove": "Picks", "csrf_token": token}, headers=HOST)
        assert r.status_code == 303
        assert [i["id"] for i in get(client, "/api/grid?album=Picks").get_json()["items"]] == [other]
    finally:
        client.post("/albums/delete", data={"name": "Picks", "csrf_token": token}, headers=HOST)


def test_years_say_where_each_year_starts_in_the_grid(client, corpus_library: Path) -> None:
    years = get(client, "/api/years").get_json()["years"]
    assert [y["year"] for y in years] == sorted({y["year"] for y in years}, reverse=True)
    assert sum(y["count"] for y in years) == 9
    order = items(corpus_library)
    with reader(corpus_library) as db:
        year_of = {i: (tree_db.file_details(db, i)["metadata"].get("taken_at") or "")[:4] for i in ids_in_order(corpus_library)}
    for y in years:  # the file at each year's offset is the newest of that year
        assert year_of[order[y["offset"]].id] in (str(y["year"]), "")
        assert y["offset"] == 0 or year_of[order[y["offset"] - 1].id] != str(y["year"])
    assert get(client, "/api/years?kind=video").get_json()["years"] == [{"year": 2019, "offset": 0, "count": 1}]
    assert get(client, "/api/years?since=bogus").status_code == 400


def _fake_programs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gdbus_rc: int) -> Path:
    """xdg-open and gdbus stand-ins that write their arguments to LOG_<name>."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, rc in (("xdg-open", 0), ("gdbus", gdbus_rc)):
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/LOG_{name}"\nexit {rc}\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return tmp_path


def test_open_in_default_app_and_show_in_folder(client, corpus_library: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from tests.mountutil import wait_until

    logs = _fake_programs(tmp_path, monkeypatch, gdbus_rc=0)
    token = _token(client)
    item = next(i for i in items(corpus_library) if i.name == "Canon_40D.jpg")
    with reader(corpus_library) as db:
        path = tree_db.file_location(db, item.id).path.decode()
    url = f"/photo/{item.id}/open?kind=image"
    page = get(client, f"/photo/{item.id}?kind=image").get_data(as_text=True)
    assert f'action="{url.replace("&", "&amp;")}"' in page and "Open in default app" in page
    assert client.post(url, data={"action": "open"}, headers=HOST).status_code == 403
    r = client.post(url, data={"action": "open", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/photo/{item.id}?kind=image")
    assert wait_until(lambda: (logs / "LOG_xdg-open").exists())
    assert (logs / "LOG_xdg-open").read_text().splitlines() == [path]
    (logs / "LOG_xdg-open").unlink()
    assert client.post(url, data={"action": "reveal", "csrf_token": token}, headers=HOST).status_code == 303
    args = (logs / "LOG_gdbus").read_text().splitlines()
    assert "org.freedesktop.FileManager1.ShowItems" in args and f"['file://{path}']" in args
    assert not (logs / "LOG_xdg-open").exists()
    r = client.post(url, data={"action": "rm -rf", "csrf_token": token}, headers=HOST)
    assert r.status_code == 400
    assert client.post("/photo/424242/open", data={"csrf_token": token}, headers=HOST).status_code == 404


def test_show_in_folder_falls_back_to_the_folder(client, corpus_library: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from tests.mountutil import wait_until

    logs = _fake_programs(tmp_path, monkeypatch, gdbus_rc=1)  # no file manager answers on D-Bus
    token = _token(client)
    item = next(i for i in items(corpus_library) if i.name == "Canon_40D.jpg")
    with reader(corpus_library) as db:
        path = tree_db.file_location(db, item.id).path.decode()
    r = client.post(f"/photo/{item.id}/open", data={"action": "reveal", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303
    assert wait_until(lambda: (logs / "LOG_xdg-open").exists())
    assert (logs / "LOG_xdg-open").read_text().splitlines() == [os.path.dirname(path)]
    with Database(corpus_library / "library.sqlite3") as db:
        source = sources_db.list_sources(db)[0]
        sources_db.set_presence(db, source.id, online=False, reason="test: unplugged")
    try:
        r = client.post(f"/photo/{item.id}/open", data={"action": "open", "csrf_token": token}, headers=HOST)
        assert r.status_code == 503 and b"drive offline" in r.data
        assert "Open in default app" not in get(client, f"/photo/{item.id}").get_data(as_text=True)
    finally:
        with Database(corpus_library / "library.sqlite3") as db:
            sources_db.set_presence(db, source.id, online=True, reason=None)


def test_the_timeline_sections_follow_the_grid_order(tmp_path: Path) -> None:
    import datetime as dt
    import itertools

    from tests.viewer_support import START_S, STEP_S, build_large_library

    n = 1500
    client = make_app(build_large_library(tmp_path, n, thumbs_at_ends=1)).test_client()
    when = {fid: dt.datetime.fromtimestamp(START_S + (fid - 1) * STEP_S, dt.timezone.utc) for fid in range(1, n + 1)}
    order = list(range(n, 0, -1))  # newest first
    for by, fmt in (("day", "%Y-%m-%d"), ("month", "%Y-%m")):
        expected, offset = [], 0
        for period, run in itertools.groupby(order, key=lambda fid: when[fid].strftime(fmt)):
            count = len(list(run))
            expected.append((period, offset, count))
            offset += count
        groups = get(client, f"/api/groups?by={by}").get_json()["groups"]
        assert [(g["period"], g["offset"], g["count"]) for g in groups] == expected
    first = get(client, "/api/groups?by=day").get_json()["groups"][0]
    day = when[n]
    assert first["label"] == f"{day:%A} {day.day} {day:%B %Y}"
    assert get(client, "/api/groups?by=month").get_json()["groups"][0]["label"] == f"{day:%B %Y}"
    # Filters narrow the sections like the grid; the page says which grouping it shows, in its links too.
    assert sum(g["count"] for g in get(client, "/api/groups?by=month&since=2011-03-20").get_json()["groups"]) < n
    page = get(client, "/?group=day&kind=image").get_data(as_text=True)
    assert re.search(r'id="grid"[^>]*data-group="day"', page) and 'href="/?kind=image&amp;group=month"' in page
    assert '<input type="hidden" name="group" value="day">' in page  # applying filters keeps the grouping
    # The photo page keeps the grouping in its links, and its way back opens the grid at the photo.
    assert 'href="/photo/1?kind=image&amp;group=day"' not in page and 'data-photo-qs="?kind=image&amp;group=day"' in page
    photo = get(client, "/photo/700?kind=image&group=day").get_data(as_text=True)
    assert 'data-back="/?kind=image&amp;group=day&amp;at=700"' in photo
    assert 'href="/photo/701?kind=image&amp;group=day"' in photo and 'href="/photo/699?kind=image&amp;group=day"' in photo
    assert 'data-back="/?at=700"' in get(client, "/photo/700").get_data(as_text=True)  # months: the default
    assert re.search(r'id="grid"[^>]*data-start="800"', get(client, "/?at=700").get_data(as_text=True))  # newest first
    assert re.search(r'id="grid"[^>]*data-start=""', get(client, "/?at=999999").get_data(as_text=True))  # not in it
    r = client.post("/photo/700/favourite?group=day", data={"favourite": "1", "csrf_token": client.application.config["CSRF_TOKEN"]},
                    headers=HOST)  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"].endswith("/photo/700?group=day")
    assert get(client, "/?at=x").status_code == 400
    assert re.search(r'id="grid"[^>]*data-group="month"', get(client, "/").get_data(as_text=True))  # the default
    for bad in ("/api/groups?by=week", "/api/groups?by=day&since=soon", "/?group=year"):
        r = get(client, bad)
        assert r.status_code == 400 and b"Traceback" not in r.data, bad


def _palette(html: str) -> list[dict[str, str]]:
    """The palette's entries as rendered: their attributes and label."""
    import html as html_mod

    out = []
    for attrs, body in re.findall(r'<li role="option" ([^>]*)>(.*?)</li>', html, flags=re.S):
        entry = {k: html_mod.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', attrs)}
        entry["label"] = re.sub(r"<[^>]+>", "", re.sub(r'<span class="section">.*?</span>', "", body)).strip()
        out.append(entry)
    return out


def test_the_palette_lists_every_view_and_action_of_this_app(client, app) -> None:
    entries = {e["label"]: e for e in _palette(get(client, "/?kind=image").get_data(as_text=True))}
    for label in ("Library", "Library by day", "Search", "Map", "Clusters", "Dashboard", "Duplicates", "Journal",
                  "Albums", "Sources", "Jobs", "Rescan all sources", "New journal entry for today",
                  "Save this view as a new album…", "Toggle favourite"):  # fmt: skip
        assert label in entries, label
    assert entries["Rescan all sources"]["data-kind"] == "post"
    assert entries["Rescan all sources"]["data-url"] == "/sources/rescan"
    assert entries["Save this view as a new album…"]["data-prompt-field"] == "new_name"
    assert entries["Library by day"]["data-url"] == "/?group=day" and entries["Library by day"]["data-filters"] == "1"
    assert json.loads(entries["Rescan all sources"]["data-fields"]) == {}
    # Every page to go to answers; the journal's entries wait for its endpoint.
    for e in entries.values():
        if e.get("data-kind") == "go":
            assert get(client, e["data-url"]).status_code == 200, e
    page = get(client, "/jobs").get_data(as_text=True)
    assert 'data-filters=""' in page and "Toggle favourite" in page  # the script shows it only with a photo
    assert entries["Add this view to an album…"]["data-prompt-field"] == "album"
    # Every source and album is a view to jump to.
    assert entries["photos"]["data-url"] == "/?source=photos" and entries["photos"]["data-words"].startswith("photos")
    post(client, app, "/albums/create", data={"name": "Summer & Co"})
    try:
        entries = {e["label"]: e for e in _palette(get(client, "/jobs").get_data(as_text=True))}
        assert entries["Summer &amp; Co"]["data-url"] == "/?album=Summer+%26+Co"
    finally:
        post(client, app, "/albums/delete", data={"name": "Summer & Co"})


def test_the_palette_offers_a_journal_entry_through_the_journal_endpoint(corpus_library: Path) -> None:
    from gallerfs.viewer import palette

    app = make_app(corpus_library)
    client = app.test_client()
    entries = {e["label"]: e for e in _palette(get(client, "/").get_data(as_text=True))}
    day, week = entries["New journal entry for today"], entries["New journal entry for this week"]
    assert day["data-url"] == week["data-url"] == "/journal/new" and day["data-kind"] == "post"
    assert json.loads(day["data-fields"]) == {"period": "day"} and json.loads(week["data-fields"]) == {"period": "week"}
    assert post(client, app, "/journal/new", token=False, data={"period": "day"}).status_code == 403
    # An entry whose endpoint is missing is left out, whatever it is.
    with app.test_request_context("/", headers=HOST):
        missing = palette.Entry("Nowhere", "nosuch.page")
        assert palette.available((missing, palette.ENTRIES[0])) == palette.available((palette.ENTRIES[0],))
