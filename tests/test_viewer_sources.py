"""The sources page's actions through Flask's test client: Rescan (one source, all, a busy lock) and
Add a folder (the same checks as 'gallerfs add', the mount guard's refusal included)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.mountguard import GallerfsMounts
from gallerfs.indexer.lock import IndexerLock
from tests.mountutil import JPG, build_library
from tests.viewer_support import HOST, make_app
from gallerfs.viewer.sources import rescans


@pytest.fixture
def library(tmp_path: Path) -> tuple[Path, Path]:
    return build_library(tmp_path)


@pytest.fixture
def app(library: tuple[Path, Path]):
    app = make_app(library[0])
    yield app
    assert rescans_of(app).wait(60)


def rescans_of(app):
    with app.app_context():
        return rescans()


def post(app, url: str, token: bool = True, **data: str):
    headers = dict(HOST)
    if token:
        headers["X-CSRF-Token"] = app.config["CSRF_TOKEN"]
    return app.test_client().post(url, headers=headers, data=data)


def sources(library: Path) -> list[sources_db.Source]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return sources_db.list_sources(db)


def file_names(library: Path) -> set[str]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return {bytes(r[0]).decode("utf-8", "replace") for r in db.tuples("SELECT name FROM files")}


def message(response) -> str:
    import html
    import re

    m = re.search(r'<p class="message">(.*?)</p>', response.get_data(as_text=True), re.S)
    return html.unescape(m[1]) if m else response.get_data(as_text=True)


def test_actions_need_the_csrf_token(app, library, tmp_path: Path) -> None:
    lib, _ = library
    new = tmp_path / "more"
    new.mkdir()
    src = sources(lib)[0]
    for url, data in (("/sources/rescan", {}), (f"/sources/{src.id}/rescan", {}), ("/sources/add", {"folder": str(new)})):
        r = post(app, url, token=False, **data)
        assert r.status_code == 403, url
        assert "CSRF" in r.get_data(as_text=True)
    assert not rescans_of(app).running()
    assert [s.name for s in sources(lib)] == [src.name]
    assert app.test_client().get("/sources/rescan", headers=HOST).status_code == 405


def test_the_sources_page_offers_the_actions(app) -> None:
    html = app.test_client().get("/sources", headers=HOST).get_data(as_text=True)
    assert 'action="/sources/add"' in html and 'name="folder"' in html
    assert 'action="/sources/rescan"' in html and "Rescan all" in html
    assert 'action="/sources/1/rescan"' in html
    assert html.count('name="csrf_token"') >= 3


def test_rescan_picks_up_a_new_file_and_shows_as_jobs(app, library) -> None:
    lib, photos = library
    shutil.copyfile(JPG / "Nikon_COOLPIX_P1.jpg", photos / "cams" / "new_one.jpg")
    assert "new_one.jpg" not in file_names(lib)
    src = sources(lib)[0]
    r = post(app, f"/sources/{src.id}/rescan")
    assert r.status_code == 303 and r.headers["Location"].endswith("/jobs")
    assert rescans_of(app).wait(120)
    assert "new_one.jpg" in file_names(lib)
    jobs = app.test_client().get("/api/jobs", headers=HOST).get_json()["jobs"]
    assert {"scan", "process"} <= {j["kind"] for j in jobs}
    assert all(j["state"] == "done" for j in jobs if j["kind"] in ("scan", "process"))
    assert sources(lib)[0].last_scan_at > src.last_scan_at


def test_rescan_all_and_the_lock_is_released(app, library) -> None:
    lib, photos = library
    (photos / "cams" / "Canon_40D.jpg").unlink()
    assert post(app, "/sources/rescan").status_code == 303
    assert rescans_of(app).wait(120)
    assert "Canon_40D.jpg" not in file_names(lib)
    with IndexerLock(lib / "run") as lock:  # free again: the CLI could index now
        lock.acquire("index")


def test_a_busy_lock_is_said_clearly(app, library) -> None:
    lib, _ = library
    with IndexerLock(lib / "run") as lock:
        lock.acquire("index")
        r = post(app, "/sources/rescan")
    assert r.status_code == 409
    text = message(r)
    assert "already indexing this library" in text and "try again" in text
    assert "\n" not in text.strip()
    assert not rescans_of(app).running()


def test_a_second_rescan_while_one_runs_is_refused(app, library, monkeypatch: pytest.MonkeyPatch) -> None:
    import gallerfs.indexer.run

    release, started = threading.Event(), threading.Event()
    real = gallerfs.indexer.run.rescan_library

    def slow(*args, **kw):
        started.set()
        assert release.wait(60)
        return real(*args, **kw)

    monkeypatch.setattr(gallerfs.indexer.run, "rescan_library", slow)
    assert post(app, "/sources/rescan").status_code == 303
    assert started.wait(30)
    try:
        r = post(app, "/sources/1/rescan")
        assert r.status_code == 409 and "still running" in message(r)
        html = app.test_client().get("/sources", headers=HOST).get_data(as_text=True)
        assert "a rescan is running" in html and "disabled" in html
    finally:
        release.set()
    assert rescans_of(app).wait(120)
    assert "a rescan is running" not in app.test_client().get("/sources", headers=HOST).get_data(as_text=True)


@pytest.mark.parametrize("bad, status, expected", [
    ("abc", 400, "source id must be a positive integer"),
    ("999", 404, "no source with id 999"),
])  # fmt: skip
def test_rescan_of_an_unknown_source(app, bad: str, status: int, expected: str) -> None:
    r = post(app, f"/sources/{bad}/rescan")
    assert r.status_code == status and expected in message(r)


def test_add_a_folder_as_gallerfs_add_does(app, library, tmp_path: Path) -> None:
    lib, _ = library
    new = tmp_path / "holiday"
    new.mkdir()
    r = post(app, "/sources/add", folder=str(new) + "/")
    assert r.status_code == 303 and r.headers["Location"].endswith("/sources")
    added = [s for s in sources(lib) if s.name == "holiday"]
    assert added and added[0].path == str(new).encode()
    r = post(app, "/sources/add", folder=str(new))
    assert r.status_code == 400 and "is already a source" in message(r)
    other = tmp_path / "other"
    other.mkdir()
    r = post(app, "/sources/add", folder=str(other), name="holiday")
    assert r.status_code == 400 and "a source named 'holiday' already exists" in message(r)
    assert post(app, "/sources/add", folder=str(other), name="Trips").status_code == 303
    assert "Trips" in {s.name for s in sources(lib)}
    assert "holiday" in app.test_client().get("/sources", headers=HOST).get_data(as_text=True)


def test_add_refuses_what_the_cli_refuses(app, library, tmp_path: Path) -> None:
    lib, photos = library
    before = sources(lib)
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    cases = [
        ("", "folder is empty"),
        ("relative/path", "must be a full path"),
        (str(tmp_path / "nope"), "nope: no such folder"),
        (str(afile), "a.txt: not a folder"),
        (str(photos / "cams"), "overlaps source"),
        ("/x" * 3000, "at most 4096 characters"),
    ]
    for folder, expected in cases:
        r = post(app, "/sources/add", folder=folder)
        assert r.status_code == 400, folder
        text = message(r)
        assert expected in text and "\n" not in text.strip(), (folder, text)
    assert sources(lib) == before


def test_add_refuses_a_folder_inside_a_gallerfs_mount(app, library, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import gallerfs.viewer.sources

    lib, _ = library
    mount = tmp_path / "mnt"
    (mount / "by-date").mkdir(parents=True)
    fake = GallerfsMounts(frozenset({str(mount).encode()}), frozenset())
    monkeypatch.setattr(gallerfs.viewer.sources, "gallerfs_mounts", lambda: fake)
    before = sources(lib)
    for folder in (mount, mount / "by-date"):
        r = post(app, "/sources/add", folder=str(folder))
        assert r.status_code == 400, folder
        assert "gallerfs mount" in message(r)
    assert sources(lib) == before


def test_add_refuses_a_folder_in_a_real_gallerfs_mount(app, library, tmp_path: Path) -> None:
    from tests.mountutil import Mount

    lib, _ = library
    before = sources(lib)
    with Mount(lib, tmp_path / "Photos.gfs") as m:
        for folder in (m.path, m.path / "by-date"):
            r = post(app, "/sources/add", folder=str(folder))
            assert r.status_code == 400, folder
            assert f"is inside the gallerfs mount {m.path}" in message(r)
    assert sources(lib) == before
