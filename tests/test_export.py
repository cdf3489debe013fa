"""gallerfs export / import: the whole library round-trips through JSON."""

from __future__ import annotations

import json
import os
import shutil

from PIL import Image

from gallerfs.db.connection import Database
from gallerfs.db import portable


def test_export_import_roundtrip(library, cli, tmp_path, corpus):
    folder = tmp_path / "pics"
    folder.mkdir()
    shutil.copy(corpus / "exiftool" / "GPS.jpg", folder / "gps.jpg")
    Image.new("RGB", (40, 30), (1, 2, 3)).save(os.fsencode(str(folder)) + b"/na\xefve.jpg", "JPEG")
    cli("add", str(folder), "--name", "pics")
    cli("index")
    db = Database(library / "library.sqlite3")
    with db.transaction():
        db.execute("INSERT INTO albums (name, created_at) VALUES ('Trip', 1.0)")
        db.execute("INSERT INTO album_files SELECT 1, id, 2.0 FROM files")
        db.execute("INSERT INTO favourites SELECT id, 3.0 FROM files LIMIT 1")
    db.close()
    export = tmp_path / "library.json"
    cli("export", str(export))
    data = json.loads(export.read_text())
    assert data["format"] == "gallerfs-library" and data["version"] == 1
    assert len(data["files"]) == 2 and data["albums"][0]["name"] == "Trip"
    gps = next(f for f in data["files"] if f["relpath"] == "gps.jpg")
    assert gps["metadata"]["latitude"] is not None and gps["content_hash"]

    other = tmp_path / "restored"
    other.mkdir()
    from tests.conftest import run_gallerfs

    run_gallerfs(other, "import", str(export))
    a = Database(library / "library.sqlite3", readonly=True)
    b = Database(other / "library.sqlite3", readonly=True)
    for table in ("files", "metadata"):
        assert list(portable.iter_files(a)) == list(portable.iter_files(b)), table
    assert portable.albums(a) == portable.albums(b)
    assert portable.favourites(a) == portable.favourites(b)
    names = {bytes(r[0]) for r in b.tuples("SELECT relpath FROM files")}
    assert b"na\xefve.jpg" in names  # a name that is not UTF-8 survived the JSON
    # importing again into a library that is not empty is refused
    proc = run_gallerfs(other, "import", str(export), check=False)
    assert proc.returncode == 1 and "not empty" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = run_gallerfs(tmp_path / "third", "import", str(bad), check=False)
    assert proc.returncode == 1 and "not a gallerfs export" in proc.stderr


def _thumbnails(library) -> set[str]:
    root = library / "thumbnails"
    return {str(p.relative_to(root)) for p in root.rglob("*.jpg")} if root.exists() else set()


def test_import_then_rescan_rebuilds_thumbnails_and_status_agrees_with_sources(library, cli, tmp_path):
    from tests.conftest import run_gallerfs

    pics, gone = tmp_path / "pics", tmp_path / "gone"
    for folder, colour in ((pics, (200, 0, 0)), (gone, (0, 0, 200))):
        folder.mkdir()
        Image.new("RGB", (400, 300), colour).save(folder / "a.jpg", "JPEG")
        Image.new("RGB", (300, 400), colour).save(folder / "b.jpg", "JPEG")
        cli("add", str(folder))
    cli("index")
    made = _thumbnails(library)
    assert len(made) == 8  # grid and preview of four photos
    export = tmp_path / "library.json"
    cli("export", str(export))
    shutil.rmtree(gone)  # that drive is not there when the library is restored

    other = tmp_path / "restored"
    other.mkdir()
    run_gallerfs(other, "import", str(export))
    assert _thumbnails(other) == set()
    status = json.loads(run_gallerfs(other, "status", "--json").stdout)
    sources = json.loads(run_gallerfs(other, "sources", "--json").stdout)
    shown = {s["name"]: (s["online"], s["offline_reason"]) for s in status["sources"]}
    assert shown == {s["name"]: (s["online"], s["offline_reason"]) for s in sources}
    assert shown["pics"] == (True, None)
    assert shown["gone"][0] is False and "does not exist" in shown["gone"][1]
    assert status["offline_files"] == 2
    text = run_gallerfs(other, "status").stdout
    assert "OFFLINE (None)" not in text and "source    pics: online" in text

    run_gallerfs(other, "rescan")
    db = Database(other / "library.sqlite3", readonly=True)
    ids = dict(db.tuples("SELECT f.relpath, f.id FROM files f JOIN sources s ON s.id = f.source_id WHERE s.name = 'pics'"))
    states = {bytes(r[0]): r[1] for r in db.tuples("SELECT relpath, state FROM files")}
    db.close()
    online_thumbs = {f"{size}/{i // 1000:03d}/{i}.jpg" for i in ids.values() for size in ("grid", "preview")}
    assert _thumbnails(other) == online_thumbs  # the online source's thumbnails are back
    assert set(states.values()) == {"done"}  # the offline source's files keep their state

    # a cleared thumbnail cache is rebuilt the same way by the next index
    victim = next(iter(sorted(online_thumbs)))
    (other / "thumbnails" / victim).unlink()
    run_gallerfs(other, "index")
    assert _thumbnails(other) == online_thumbs
