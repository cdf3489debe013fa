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
