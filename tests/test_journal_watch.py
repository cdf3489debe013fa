"""gallerfs watch follows the journal folder: new empty entries get the template, links become mentions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from gallerfs.db import journal as jdb
from gallerfs.db.connection import Database
from tests.journal_support import ROOT, build_library, wait_for


def test_watch_fills_records_moves_and_forgets(tmp_path: Path) -> None:
    library, _ = build_library(tmp_path)
    journal = library / "journal"
    journal.mkdir()
    (journal / "2024-07-14.md").touch()  # created while gallerfs was not running
    env = {k: v for k, v in os.environ.items() if k not in ("GALLERFS_LIBRARY", "GALLERFS_CONFIG")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gallerfs", "--library", str(library), "watch", "--no-initial-scan"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        assert wait_for(lambda: (journal / "2024-07-14.md").stat().st_size > 0, 30), "not filled at start"
        assert wait_for(lambda: jdb.get_entry(db, b"2024-07-14.md") is not None, 10)
        assert jdb.get_entry(db, b"2024-07-14.md").mentions == 3  # type: ignore[union-attr]

        (journal / "2024-07-08.md").touch()  # Obsidian's new note, directly in the folder
        assert wait_for(lambda: (journal / "2024-07-08.md").stat().st_size > 0, 10)
        assert "(_photos/2024-07-08/monday.jpg)" in (journal / "2024-07-08.md").read_text()

        note = journal / "ideas.md"
        note.write_text("the sunset: ![](_photos/2024-07-14/beach%20party%20%28sunset%29.jpg)\n")

        def mentions(rel: bytes) -> int | None:
            e = jdb.get_entry(db, rel)
            return None if e is None else e.mentions

        assert wait_for(lambda: mentions(b"ideas.md") == 1, 10)
        assert (journal / "ideas.md").read_text().startswith("the sunset")  # not a period: never templated
        (journal / "sub").mkdir()
        os.rename(note, journal / "sub" / "ideas.md")
        assert wait_for(lambda: mentions(b"sub/ideas.md") == 1 and mentions(b"ideas.md") is None, 10)
        (journal / "sub" / "ideas.md").unlink()
        assert wait_for(lambda: mentions(b"sub/ideas.md") is None, 10)
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        db.close()
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err
