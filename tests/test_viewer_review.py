"""The viewer's duplicate review and journal through Flask's test client, on small libraries indexed by the
real CLI: bad set ids, CSRF, the CLI's safety rules through POST (last copy, offline copies, the only
full-resolution picture), undo from the trash, empty states, the journal calendar, sanitised entries and
the create contract (``journal.create_entry`` at ``/journal/new``)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest

from gallerfs.db import duplicates as dupdb
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.indexer.scanner import refresh_presence
from gallerfs.journal.periods import week_of
from tests.conftest import loop_drive_at, run_gallerfs
from tests.review_support import MONGOLIA, build_review_library
from tests.viewer_support import HOST, make_app


@pytest.fixture
def review_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return build_review_library(tmp_path)


def _client(library: Path):
    app = make_app(library)
    return app, app.test_client()


def _post(client, app, url: str, data: dict[str, str], token: bool = True):
    form = dict(data)
    if token:
        form["csrf_token"] = app.config["CSRF_TOKEN"]
    return client.post(url, data=form, headers=HOST)


def _ids(library: Path) -> dict[str, int]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        return {os.fsdecode(r[1]): int(r[0]) for r in db.tuples("SELECT id, relpath FROM files")}


def _set_id(html: str) -> str:
    m = re.search(r'data-set="([0-9a-f]+)"', html)
    assert m, html[:2000]
    return m[1]


def _follow(client, response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return client.get(response.headers["Location"], headers=HOST).get_data(as_text=True)


def test_the_review_pages_and_bad_input(review_library: tuple[Path, Path]) -> None:
    library, photos = review_library
    app, client = _client(library)
    page = client.get("/duplicates", headers=HOST).get_data(as_text=True)
    assert "Set 1 of 2" in page and "exact copies" in page and "rocks copy.jpg" in page
    assert "512 × 341" in page and "53.5 KB" in page and str(photos / "trip" / "rocks.jpg") in page
    for key in ("next set", "previous set", "choose the keeper", "trash every other copy", "undo the last trash"):
        assert key in page  # the shortcuts are on screen
    assert 'href="/duplicates"' in client.get("/", headers=HOST).get_data(as_text=True)  # in the nav
    exact = _set_id(page)

    near = client.get("/duplicates?kind=near", headers=HOST).get_data(as_text=True)
    assert "Set 1 of 1" in near and "near duplicates" in near and "Why: perceptual hashes within" in near
    assert "only full resolution" in near and "flower.webp" in near
    assert _set_id(near) != exact

    assert client.get("/duplicates?set=zz", headers=HOST).status_code == 400
    assert client.get("/duplicates?set=../../etc", headers=HOST).status_code == 400
    assert client.get("/duplicates?kind=some", headers=HOST).status_code == 400
    gone = client.get("/duplicates?set=deadbeef", headers=HOST)
    assert gone.status_code == 200 and "not a duplicate set any more" in gone.get_data(as_text=True)

    ids = _ids(library)
    bad = [
        ({"set": "nothex"}, 400, "8 or 16 hex digits"),
        ({"set": "deadbeef", "keeper": str(ids["trip/rocks.jpg"])}, 404, "no duplicate set deadbeef"),
        ({"set": exact, "keeper": str(ids["trip/unique.jpg"])}, 400, "not a copy in this duplicate set"),
        ({"set": exact, "keeper": "1 OR 1=1"}, 400, "keeper must be a positive integer"),
        ({"set": exact}, 400, "keeper must be a positive integer"),
        ({"set": exact, "keeper": str(ids["trip/rocks.jpg"]), "members": str(ids["trip/rocks.jpg"])}, 409,
         "changed since the page was shown"),  # a copy the page did not show is never trashed
        ({"set": exact, "keeper": str(ids["trip/rocks.jpg"]), "members": "x"}, 400, "member must be"),
    ]
    for form, status, message in bad:
        response = _post(client, app, "/duplicates/trash", form)
        assert response.status_code == status and message in response.get_data(as_text=True), form
    assert _post(client, app, "/duplicates/restore", {"records": "x"}).status_code == 400
    assert _post(client, app, "/duplicates/restore", {}).status_code == 400
    assert all((photos / rel).exists() for rel in ids)


def test_mutations_need_the_csrf_token(review_library: tuple[Path, Path]) -> None:
    library, photos = review_library
    app, client = _client(library)
    exact = _set_id(client.get("/duplicates", headers=HOST).get_data(as_text=True))
    keeper = str(_ids(library)["trip/rocks.jpg"])
    for url, form in (("/duplicates/trash", {"set": exact, "keeper": keeper}),
                      ("/duplicates/keep", {"set": exact, "keeper": keeper}),
                      ("/duplicates/restore", {"records": "1"}), ("/journal/new", {"period": "day"})):  # fmt: skip
        missing = _post(client, app, url, form, token=False)
        wrong = client.post(url, data={**form, "csrf_token": "not-it"}, headers=HOST)
        assert missing.status_code == wrong.status_code == 403, url
        assert "CSRF" in missing.get_data(as_text=True)
    assert (photos / "backup" / "rocks copy.jpg").exists()
    assert not (library / "journal").exists()


def test_trash_the_others_moves_them_to_the_trash_and_undo_restores(
    review_library: tuple[Path, Path], tmp_path: Path
) -> None:
    library, photos = review_library
    app, client = _client(library)
    ids = _ids(library)
    exact = _set_id(client.get("/duplicates", headers=HOST).get_data(as_text=True))

    # Keep the backup copy (remembered as 'duplicates keep' does), then change our mind and trash the backup.
    page = _follow(client, _post(client, app, "/duplicates/keep", {"set": exact, "keeper": str(ids["backup/rocks copy.jpg"])}))
    assert "keeper: " in page and "keeper (your choice)" in page
    response = _post(client, app, "/duplicates/trash", {"set": exact, "keeper": str(ids["trip/rocks.jpg"])})
    page = _follow(client, response)
    assert "moved " in page and "to the trash" in page and "Undo the last trash" in page
    assert "near duplicates" in page  # on to the next set
    trashed = tmp_path / "xdg" / "Trash" / "files" / "rocks copy.jpg"
    assert trashed.is_file() and not (photos / "backup" / "rocks copy.jpg").exists()
    assert (tmp_path / "xdg" / "Trash" / "info" / "rocks copy.jpg.trashinfo").is_file()
    with Database(library / "library.sqlite3", readonly=True) as db:
        assert dupdb.file_info(db, ids["backup/rocks copy.jpg"]) is None  # the index updated
        [record] = dupdb.trash_records(db)
    assert client.get("/duplicates", headers=HOST).get_data(as_text=True).count("Set 1 of 1") == 1

    undo = re.search(r'id="undo-form".*?name="records" value="([0-9,]+)"', page, re.S)
    assert undo and undo[1] == str(record.id)
    page = _follow(client, _post(client, app, "/duplicates/restore", {"records": undo[1], "set": exact}))
    assert "restored " in page and "Set 1 of 2" in page and "rocks copy.jpg" in page
    assert (photos / "backup" / "rocks copy.jpg").is_file() and not trashed.exists()
    assert _ids(library)["backup/rocks copy.jpg"] == ids["backup/rocks copy.jpg"]  # its id back
    again = _follow(client, _post(client, app, "/duplicates/restore", {"records": undo[1]}))
    assert "restored already" in again and "note-error" in again


def test_the_last_copy_and_the_only_full_resolution_copy_are_refused(review_library: tuple[Path, Path]) -> None:
    library, photos = review_library
    app, client = _client(library)
    ids = _ids(library)
    exact = _set_id(client.get("/duplicates", headers=HOST).get_data(as_text=True))
    # The keeper changed on disk since it was indexed: it no longer counts as a copy, so the other is the last one.
    keeper = photos / "trip" / "rocks.jpg"
    keeper.write_bytes(os.urandom(keeper.stat().st_size))
    page = _follow(client, _post(client, app, "/duplicates/trash", {"set": exact, "keeper": str(ids["trip/rocks.jpg"])}))
    assert "last remaining copy" in page and "note-error" in page and 'data-set="' + exact in page
    assert (photos / "backup" / "rocks copy.jpg").exists()
    assert "Undo the last trash" not in page

    near = _set_id(client.get("/duplicates?kind=near", headers=HOST).get_data(as_text=True))
    page = _follow(client, _post(client, app, "/duplicates/trash",
                                 {"set": near, "kind": "near", "keeper": str(ids["phone/flower.webp"])}))  # fmt: skip
    assert "only full-resolution copy" in page and (photos / "trip" / "flower.jpg").exists()
    with Database(library / "library.sqlite3", readonly=True) as db:
        assert dupdb.trash_records(db) == []


def test_an_offline_copy_is_shown_and_counted_but_never_the_copy_that_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with loop_drive_at(tmp_path / "usb.img", tmp_path / "usb", size="16M") as (usb, _plug, unplug):
        library, photos = build_review_library(tmp_path, drive=usb)
        ids = _ids(library)
        unplug()
        with Database(library / "library.sqlite3") as db:
            for source in sources_db.list_sources(db):
                refresh_presence(db, source)
        app, client = _client(library)
        page = client.get("/duplicates?kind=exact", headers=HOST).get_data(as_text=True)
        assert "Set 1 of 2" in page  # the pair with its copy on the unplugged drive is still a set
        sets = re.findall(r'href="/duplicates\?kind=exact&amp;set=([0-9a-f]+)"', page) + [_set_id(page)]
        pages = {s: client.get(f"/duplicates?kind=exact&set={s}", headers=HOST).get_data(as_text=True) for s in sets}
        [(set_id, offline_page)] = [(s, p) for s, p in pages.items() if "mongolia" in p]
        assert "badge-inline off" in offline_page and "on a drive that is offline" in offline_page
        page = _follow(client, _post(client, app, "/duplicates/trash",
                                     {"set": set_id, "kind": "exact", "keeper": str(ids["mongolia.jpeg"])}))  # fmt: skip
        assert "offline" in page and "cannot be verified" in page
        assert (photos / "trip" / "mongolia.jpeg").read_bytes() == MONGOLIA.read_bytes()
        with Database(library / "library.sqlite3", readonly=True) as db:
            assert dupdb.trash_records(db) == []


def test_no_duplicates_says_what_to_do(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "one.jpg").write_bytes((Path(__file__).parent.parent.parent / "shared" / "corpora" / "exif" /
                                      "exif-samples" / "jpg" / "Canon_40D.jpg").read_bytes())  # fmt: skip
    library = tmp_path / "library"
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    app, client = _client(library)
    page = client.get("/duplicates", headers=HOST).get_data(as_text=True)
    assert "No duplicates" in page and "rescan it" in page and 'href="/sources"' in page
    assert 'id="review-form"' not in page


def test_journal_calendar_entry_and_create_contract(review_library: tuple[Path, Path]) -> None:
    library, photos = review_library
    app, client = _client(library)
    with app.test_request_context():
        from flask import url_for

        assert url_for("journal.create_entry") == "/journal/new"
    page = client.get("/journal", headers=HOST).get_data(as_text=True)
    assert "No journal yet" in page and "journal_dir" in page and 'href="/journal"' in page
    assert client.get("/journal?month=2024-13", headers=HOST).status_code == 400
    assert client.get("/journal/2024-02-30", headers=HOST).status_code == 400
    assert client.get("/journal/..%2F..%2Fetc%2Fpasswd", headers=HOST).status_code in (400, 404)

    # The rocks were taken on 2012-08-05: that day in the calendar has them; its page offers an entry.
    month = client.get("/journal?month=2012-08", headers=HOST).get_data(as_text=True)
    assert re.search(r'data-day="2012-08-05">\s*<a[^>]*>\s*<span class="num">5</span>\s*<span class="photo-count">2 photos', month)
    day = client.get("/journal/2012-08-05", headers=HOST).get_data(as_text=True)
    assert "No entry for this day yet" in day and 'id="create-entry"' in day and "rocks.jpg" in day

    response = _post(client, app, "/journal/new", {"period": "day", "name": "2012-08-05"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/journal/2012-08-05")
    entry_file = library / "journal" / "2012-08-05.md"
    made = entry_file.read_bytes()
    entry_file.unlink()
    run_gallerfs(library, "journal", "new", "2012-08-05")
    assert entry_file.read_bytes() == made  # the CLI writes the very same bytes

    # Never clobbered: an edited entry stays as it is when asked again.
    entry_file.write_bytes(made + b"\nWe climbed <script>alert(1)</script> the rocks. [[2012-08-06]]\n"
                           b"![remote](https://example.com/x.png) [bad](javascript:alert(1))\n")  # fmt: skip
    edited = entry_file.read_bytes()
    assert _post(client, app, "/journal/new", {"name": "2012-08-05"}).status_code == 303
    assert entry_file.read_bytes() == edited
    ids = _ids(library)
    page = client.get("/journal/2012-08-05", headers=HOST).get_data(as_text=True)
    body = page[page.index('id="entry-body"'):page.index("</article>")]
    assert "Sunday 5 August 2012" in body and "&lt;script&gt;" in body and "<script" not in body
    assert f'href="/photo/{ids["trip/rocks.jpg"]}"' in body and f"/thumb/{ids['trip/rocks.jpg']}/preview" in body
    assert 'href="/journal/2012-08-06"' in body and "https://example.com" not in body and "javascript:" not in body
    assert "Photos this entry links to" in page
    month = client.get("/journal?month=2012-08", headers=HOST).get_data(as_text=True)
    assert "entry-mark" in month and "Sunday 5 August 2012" in month  # marked, and listed under Entries
    # The photo page's journal mentions link back to the entry.
    photo = client.get(f"/photo/{ids['trip/rocks.jpg']}", headers=HOST).get_data(as_text=True)
    assert 'href="/journal/2012-08-05"' in photo

    # Today and this week, as the command palette posts them.
    today = dt.date.today()
    response = _post(client, app, "/journal/new", {})
    assert response.headers["Location"].endswith(f"/journal/{today.isoformat()}")
    assert (library / "journal" / f"{today.isoformat()}.md").is_file()
    response = _post(client, app, "/journal/new", {"period": "week"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/journal/{week_of(today).name}")
    assert _post(client, app, "/journal/new", {"period": "month"}).status_code == 400
    assert _post(client, app, "/journal/new", {"period": "day", "name": "2024-W28"}).status_code == 400
    week = client.get(f"/journal/{week_of(today).name}", headers=HOST).get_data(as_text=True)
    assert "Week " in week and 'id="entry-body"' in week


def test_journal_month_picker_lists_the_months_with_photos(review_library: tuple[Path, Path]) -> None:
    library, _ = review_library
    app, client = _client(library)
    page = client.get("/journal", headers=HOST).get_data(as_text=True)
    picker = page[page.index('id="month-picker"'):]
    assert '<option value="2012-08">August 2012 (2)</option>' in picker
    assert '<option value="2003-12">December 2003 (2)</option>' in picker
    assert picker.index("2012-08") < picker.index("2003-12")  # newest first
