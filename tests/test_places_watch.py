"""'gallerfs watch' names the place of a geotagged photo dropped into a source."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from gallerfs.db.connection import Database
from tests.conftest import EXIF_CORPUS, gallerfs_env, run_gallerfs


def test_watch_places_new_geotagged_photos(library: Path, tmp_path: Path):
    folder = tmp_path / "pics"
    folder.mkdir()
    run_gallerfs(library, "add", str(folder))
    run_gallerfs(library, "index")
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        deadline = time.monotonic() + 30
        while db.value("SELECT count(*) FROM jobs WHERE kind = 'scan' AND state = 'done'") < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.5)  # the observer starts after the initial scan
        shutil.copy2(EXIF_CORPUS / "exif-samples" / "jpg" / "gps" / "DSCN0021.jpg", folder / "arezzo.jpg")
        deadline = time.monotonic() + 30
        place = None
        while place is None and time.monotonic() < deadline and proc.poll() is None:
            rows = db.tuples("SELECT country, region, city FROM places")
            place = rows[0] if rows else None
            time.sleep(0.1)
        assert place == ("Italy", "Tuscany", "Arezzo")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        db.close()
    assert proc.returncode == 0, err
