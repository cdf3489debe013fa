"""End to end through the real command line: index a generated library, search, filter, similar, resume."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import pytest

from tests import clipmodel
from tests.conftest import EXIF_CORPUS, gallerfs_env, run_gallerfs

CORPUS_VIDEO = EXIF_CORPUS / "jcodec" / "zhuker" / "1.mp4"


@pytest.fixture
def model_dir(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "model-files"
    return folder, clipmodel.write_model_dir(folder)


def _query(library: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = apsw.Connection(str(library / "library.sqlite3"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_index_search_filter_similar(tmp_path: Path, library: Path, model_dir) -> None:
    photos = tmp_path / "Photos"
    (photos / "2023").mkdir(parents=True)
    (photos / "2024").mkdir()
    for i in range(3):
        clipmodel.colour_photo(photos / "2023" / f"red{i}.jpg", "red", i)
        clipmodel.colour_photo(photos / "2024" / f"green{i}.jpg", "green", 10 + i)
    clipmodel.colour_photo(photos / "2024" / "red_late.jpg", "red", 20)
    clipmodel.colour_photo(photos / "2024" / "blue.jpg", "blue", 21)
    clipmodel.reencode(photos / "2024" / "blue.jpg", photos / "2023" / "blue-small.jpg")
    shutil.copyfile(CORPUS_VIDEO, photos / "2024" / "clip.mp4")  # embedded from phase 2's preview frame

    run_gallerfs(library, "add", str(photos))
    # Without a model indexing still works; photos are embedded later.
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["embed"]["model"] is None
    proc = run_gallerfs(library, "search", "red", check=False)
    assert proc.returncode == 5 and "gallerfs models install" in proc.stderr
    proc = run_gallerfs(library, "similar", str(photos / "2024" / "blue.jpg"), check=False)
    assert proc.returncode == 5 and "gallerfs models install" in proc.stderr  # as search, the man page says

    folder, manifest = model_dir
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    proc = run_gallerfs(library, "similar", str(photos / "2024" / "blue.jpg"), check=False)
    assert proc.returncode == 1 and "run 'gallerfs index'" in proc.stderr  # a model, nothing embedded yet
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["embed"]["embedded"] == 10
    kinds = _query(library, "SELECT f.kind, count(*) FROM embeddings e JOIN files f ON f.id = e.file_id "
                            "WHERE e.state = 'done' GROUP BY f.kind")
    assert dict(kinds) == {"image": 9, "video": 1}

    hits = json.loads(run_gallerfs(library, "search", "red", "--json").stdout)
    assert sorted(Path(h["relpath"]).name for h in hits) == ["red0.jpg", "red1.jpg", "red2.jpg", "red_late.jpg"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4]
    text = run_gallerfs(library, "search", "red photos", "--limit", "2").stdout.splitlines()
    assert len(text) == 2 and all("red" in line for line in text)

    ids = {Path(h["relpath"]).name: h["file_id"] for h in hits}
    late = _query(library, "SELECT id FROM files WHERE name = ?", (b"red_late.jpg",))[0][0]
    assert ids["red_late.jpg"] == late
    hits = json.loads(run_gallerfs(library, "search", "red", "--kind", "video", "--json").stdout)
    assert [(Path(h["relpath"]).name, h["kind"]) for h in hits] == [("clip.mp4", "video")]
    proc = run_gallerfs(library, "search", "red", "--album", "Nope", check=False)
    assert proc.returncode == 1 and "no album named 'Nope'" in proc.stderr
    proc = run_gallerfs(library, "search", "red", "--since", "yesterday", check=False)
    assert proc.returncode == 1 and "YYYY" in proc.stderr
    year = time.gmtime().tm_year
    hits = json.loads(run_gallerfs(library, "search", "red", "--since", str(year - 1), "--source", "Photos", "--json").stdout)
    assert len(hits) == 4  # file times are now: all in range
    hits = json.loads(run_gallerfs(library, "search", "red", "--until", "2001", "--json").stdout)
    assert hits == []
    # The source is online: --online keeps every hit, --offline finds none, and both at once is an error.
    assert len(json.loads(run_gallerfs(library, "search", "red", "--online", "--json").stdout)) == 4
    assert json.loads(run_gallerfs(library, "search", "red", "--offline", "--json").stdout) == []
    proc = run_gallerfs(library, "search", "red", "--online", "--offline", check=False)
    assert proc.returncode == 2 and "not allowed with" in proc.stderr

    similar = json.loads(run_gallerfs(library, "similar", str(photos / "2024" / "blue.jpg"), "--json").stdout)
    assert Path(similar[0]["relpath"]).name == "blue-small.jpg"
    blue_id = _query(library, "SELECT id FROM files WHERE name = ?", (b"blue.jpg",))[0][0]
    by_id = json.loads(run_gallerfs(library, "similar", str(blue_id), "--json").stdout)
    assert [h["file_id"] for h in by_id] == [h["file_id"] for h in similar]
    proc = run_gallerfs(library, "similar", str(tmp_path / "nowhere.jpg"), check=False)
    assert proc.returncode == 1 and "No such file" in proc.stderr


TOTAL = 80


def test_killed_embedding_job_resumes(tmp_path: Path, library: Path, model_dir) -> None:
    photos = tmp_path / "many"
    photos.mkdir()
    for i, colour in enumerate(clipmodel.COLOURS):  # large PNGs: no draft decoding, so slow enough to interrupt
        clipmodel.colour_photo(photos / f"p{i:02}.png", colour, i, size=(1800, 1350))
    for i in range(8, TOTAL):
        shutil.copyfile(photos / f"p{i % 8:02}.png", photos / f"p{i:02}.png")
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\nembed_batch_size = 1\n")
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index", "--json")  # phase 2 without a model: the next index only embeds
    folder, manifest = model_dir
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))

    proc = subprocess.Popen(
        [sys.executable, "-m", "gallerfs", "index", "--json"], env=gallerfs_env(library),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and proc.poll() is None:
            done = _query(library, "SELECT count(*) FROM embeddings")[0][0]
            if done >= 4:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    before = dict(_query(library, "SELECT file_id, embedded_at FROM embeddings"))
    assert 4 <= len(before) < TOTAL, f"the job was not interrupted mid-way ({len(before)} embedded)"
    job = _query(library, "SELECT id, state FROM jobs WHERE kind = 'embed' ORDER BY id DESC LIMIT 1")[0]
    assert job[1] == "running"  # as the killed process left it

    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["embed"]["embedded"] == TOTAL - len(before)
    after = dict(_query(library, "SELECT file_id, embedded_at FROM embeddings"))
    assert len(after) == TOTAL
    assert all(after[i] == t for i, t in before.items())  # nothing done before the kill was redone
    resumed = _query(library, "SELECT state, last_error, done, total FROM jobs WHERE id = ?", (job[0],))[0]
    assert resumed[0] == "done" and "resumed" in resumed[1]
    hits = json.loads(run_gallerfs(library, "search", "purple", "--json").stdout)
    assert {Path(h["relpath"]).name for h in hits} >= {f"p{i:02}.png" for i in range(6, TOTAL, 8)}
