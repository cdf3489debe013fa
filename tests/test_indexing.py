"""Indexing real folders through the real command line: phase 1, phase 2, bad input, resumption."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
import struct
from pathlib import Path

from PIL import Image

from gallerfs.db.connection import Database
from tests.conftest import gallerfs_env, run_gallerfs


def _db(library: Path) -> Database:
    return Database(library / "library.sqlite3", readonly=True)


def _jpeg(path: Path, color=(200, 30, 30), size=(320, 240)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG", quality=90)
    return path


def _png_bomb(path: Path, width: int = 40000, height: int = 40000) -> None:
    """A valid PNG header claiming 1.6 gigapixels, in a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = zlib.compress(b"\x00" * (width // 8 + 1) * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))  # fmt: skip


def test_add_index_status_and_json(library, cli, corpus, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(corpus / "exiftool", photos / "exiftool")
    out = cli("add", str(photos), "--json")
    added = json.loads(out.stdout)
    assert added[0]["name"] == "photos"
    cli("index")
    status = json.loads(cli("status", "--json").stdout)
    db = _db(library)
    on_disk = sum(1 for p in photos.rglob("*") if p.is_file() and not p.name.startswith("."))
    indexed = db.value("SELECT count(*) FROM files")
    from gallerfs.indexer.media import media_kind

    assert indexed == sum(1 for p in photos.rglob("*") if p.is_file() and media_kind(p.name)) <= on_disk
    assert status["files"] == indexed
    assert status["by_state"]["pending"] == 0
    assert status["by_state"]["done"] > 0
    jobs = json.loads(cli("jobs", "--json").stdout)
    assert {j["kind"] for j in jobs} >= {"scan", "process"}
    assert all(j["state"] == "done" for j in jobs)
    # thumbnails exist for indexed images, keyed by file id
    done_images = db.tuples("SELECT id FROM files WHERE state = 'done' AND kind = 'image'")
    thumbs = list((library / "thumbnails").rglob("*.jpg"))
    assert len(thumbs) >= len(done_images) > 0
    sources = json.loads(cli("sources", "--json").stdout)
    assert sources[0]["online"] and sources[0]["files"] == indexed
    # indexing again finds nothing to do
    again = json.loads(cli("index", "--json").stdout)
    assert again["processed"] == 0 and again["sources"][0]["new"] == 0


def test_user_errors_are_one_line(library, cli, tmp_path):
    for args, needle in [
        (("add", str(tmp_path / "nope")), "no such folder"),
        (("index",), "no sources yet"),
        (("index", "ghost"), "no sources yet"),
        (("config", "set", "workers", "many"), "workers must be int"),
        (("config", "get", "colour"), "unknown setting"),
    ]:
        proc = cli(*args, check=False)
        assert proc.returncode == 1, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], proc.stderr
    (tmp_path / "p").mkdir()
    cli("add", str(tmp_path / "p"))
    proc = cli("index", "ghost", check=False)
    assert proc.returncode == 1 and "no source named 'ghost'" in proc.stderr
    proc = cli("add", str(tmp_path / "p"), check=False)
    assert proc.returncode == 1 and "already" in proc.stderr


def test_newer_schema_is_refused(library, cli, tmp_path):
    (tmp_path / "p").mkdir()
    cli("add", str(tmp_path / "p"))
    db = Database(library / "library.sqlite3")
    db.execute("PRAGMA user_version = 999")
    db.close()
    proc = cli("status", check=False)
    assert proc.returncode == 3
    assert "newer gallerfs" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_config_roundtrip(cli, library, tmp_path):
    cli("config", "set", "thumbnail_grid_px", "300")
    assert cli("config", "get", "thumbnail_grid_px").stdout.strip() == "300"
    listed = {r["key"]: r["value"] for r in json.loads(cli("config", "list", "--json").stdout)}
    assert listed["thumbnail_grid_px"] == 300 and listed["workers"] == 2
    cli("config", "set", "journal_dir", str(tmp_path / "notes"))
    assert cli("config", "get", "journal_dir").stdout.strip() == str(tmp_path / "notes")


def _bad_folder(root: Path) -> dict[str, bytes]:
    """Every kind of bad input the indexer must survive; returns name -> relpath."""
    root.mkdir(parents=True)
    _jpeg(root / "good.jpg")
    (root / "zero.jpg").write_bytes(b"")
    data = (root / "good.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    _png_bomb(root / "bomb.png")
    Image.new("RGB", (64, 48), (0, 0, 255)).save(root / "really-a-png.jpg", "PNG")
    (root / "not-an-image.jpg").write_bytes(b"hello, I am text\n" * 50)
    weird = os.fsencode(str(root)) + b"/caf\xe9-latin1.jpg"
    shutil.copy(root / "good.jpg", weird)
    shutil.copy(root / "good.jpg", root / "new\nline.jpg")
    long_name = "L" * 251 + ".jpg"
    assert len(long_name.encode()) == 255
    shutil.copy(root / "good.jpg", root / long_name)
    (root / "locked").mkdir()
    _jpeg(root / "locked" / "hidden.jpg")
    os.chmod(root / "locked", 0)
    (root / "loop").mkdir()
    os.symlink("..", root / "loop" / "back")
    return {"weird": b"caf\xe9-latin1.jpg", "long": long_name.encode(), "newline": b"new\nline.jpg"}


def _unprivileged(args: list[str]) -> list[str]:
    """Root reads every folder; drop the capabilities that allow it so chmod 000 means unreadable."""
    if os.geteuid() == 0:
        return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *args]
    return args


def test_bad_input_is_recorded_and_never_stops_the_job(library, cli, tmp_path):
    folder = tmp_path / "bad"
    names = _bad_folder(folder)
    try:
        cli("add", str(folder))
        proc = subprocess.run(
            _unprivileged([sys.executable, "-m", "gallerfs", "index", "--json"]),
            env=gallerfs_env(library), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
    finally:
        os.chmod(folder / "locked", 0o755)
    db = _db(library)
    states = {bytes(r[0]): (r[1], r[2]) for r in db.tuples("SELECT relpath, state, error FROM files")}
    assert states[b"good.jpg"][0] == "done"
    for name in (b"zero.jpg", b"truncated.jpg", b"bomb.png", b"not-an-image.jpg"):
        state, error = states[name]
        assert state == "error" and error, (name, states[name])
    assert "pixels" in states[b"bomb.png"][1].lower() or "bomb" in states[b"bomb.png"][1].lower()
    assert states[b"really-a-png.jpg"][0] == "done"
    assert db.value("SELECT format FROM metadata m JOIN files f ON f.id = m.file_id WHERE f.relpath = ?",
                    (b"really-a-png.jpg",)) == "PNG"  # fmt: skip
    for key in ("weird", "long", "newline"):
        assert states[names[key]][0] == "done", key
    problems = {p["path"]: p["error"] for p in report["sources"][0]["problems"]}
    assert "locked" in problems and "denied" in problems["locked"].lower()
    assert any("loop" in err for err in problems.values())
    recorded = {(bytes(r[0]), r[1]) for r in db.tuples("SELECT path, stage FROM failures")}
    assert (b"locked", "walk") in recorded
    for name in (b"zero.jpg", b"truncated.jpg", b"bomb.png", b"not-an-image.jpg"):
        assert any(p == name for p, _ in recorded), name
    # the folder that could not be read is not "deleted" by a rescan, and its files appear once readable
    proc = cli("rescan", "--json")
    assert json.loads(proc.stdout)["sources"][0]["deleted"] == 0
    assert db.value("SELECT count(*) FROM files WHERE relpath = ?", (b"locked/hidden.jpg",)) == 1
    status = json.loads(cli("status", "--json", "--failures").stdout)
    assert status["by_state"]["error"] >= 4 and status["failure_list"]


def test_kill_9_during_phase_2_resumes_without_redoing_work(library, tmp_path, corpus):
    photos = tmp_path / "photos"
    for i in range(120):
        _jpeg(photos / f"d{i % 4}" / f"img{i:03}.jpg", color=(i * 2 % 256, 80, 160), size=(1600, 1200))
    run_gallerfs(library, "config", "set", "batch_size", "4")
    run_gallerfs(library, "config", "set", "workers", "1")
    run_gallerfs(library, "add", str(photos))
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "index"], env=gallerfs_env(library),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    done = 0
    try:
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (library / "library.sqlite3").exists():
                try:
                    db = _db(library)
                    done = db.value("SELECT count(*) FROM files WHERE state = 'done'") or 0
                    db.close()
                except Exception:
                    continue
            if done >= 12:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
        assert 12 <= done < 120, done
        os.killpg(proc.pid, signal.SIGKILL)  # the indexer and its workers, as a crash would
    finally:
        proc.wait(timeout=30)
    db = _db(library)
    interrupted = db.value("SELECT count(*) FROM jobs WHERE kind = 'process' AND state = 'running'")
    assert interrupted == 1
    db.close()
    out = json.loads(run_gallerfs(library, "jobs", "--json").stdout)
    assert any(j["state"] == "interrupted" for j in out)
    run_gallerfs(library, "index")
    db = _db(library)
    assert db.value("SELECT count(*) FROM files WHERE state = 'done'") == 120
    attempts = [r[0] for r in db.tuples("SELECT attempts FROM files")]
    redone = sum(1 for a in attempts if a > 1)
    assert max(attempts) <= 2
    # at most the batches in flight (window of max(batch, 4 * workers) = 4 files) plus one being fetched
    assert redone <= 8, redone
    process_jobs = db.tuples("SELECT state, done FROM jobs WHERE kind = 'process' ORDER BY id")
    assert process_jobs[0][0] == "done"  # the interrupted job was resumed, not abandoned
    assert db.integrity_check() == "ok"


def test_job_left_running_by_a_reused_pid_is_resumed(library, tmp_path):
    """Liveness is the indexer lock, not the PID: after a reboot a job row's PID may belong to anyone."""
    photos = tmp_path / "photos"
    _jpeg(photos / "one.jpg")
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index", "--scan-only")
    db = Database(library / "library.sqlite3")
    planted = {}
    with db.transaction():
        for kind, pid in (("process", 1), ("embed", os.getpid())):  # both PIDs alive, neither indexing
            db.execute("INSERT INTO jobs (kind, state, pid, heartbeat_at, created_at, started_at) "
                       "VALUES (?, 'running', ?, 0, 0, 0)", (kind, pid))  # fmt: skip
            planted[kind] = db.last_rowid()
    db.close()
    listed = {j["id"]: j["state"] for j in json.loads(run_gallerfs(library, "jobs", "--json").stdout)}
    assert listed[planted["process"]] == "interrupted" and listed[planted["embed"]] == "interrupted"
    status = json.loads(run_gallerfs(library, "status", "--json").stdout)
    assert {j["state"] for j in status["jobs"]} == {"interrupted"}
    run_gallerfs(library, "index")
    db = _db(library)
    state, error = db.tuples("SELECT state, last_error FROM jobs WHERE id = ?", (planted["process"],))[0]
    assert state == "done" and "resumed" in error
    assert db.value("SELECT state FROM files WHERE relpath = ?", (b"one.jpg",)) == "done"
    assert db.value("SELECT count(*) FROM jobs WHERE kind = 'process'") == 1  # resumed, not a second row
    db.close()


def test_running_job_shows_running_while_the_lock_is_held(library, tmp_path):
    from gallerfs.indexer.lock import IndexerLock

    (tmp_path / "photos").mkdir()
    run_gallerfs(library, "add", str(tmp_path / "photos"))
    db = Database(library / "library.sqlite3")
    with db.transaction():
        db.execute("INSERT INTO jobs (kind, state, pid, heartbeat_at, created_at, started_at) "
                   "VALUES ('process', 'running', ?, 0, 0, 0)", (os.getpid(),))  # fmt: skip
    db.close()
    with IndexerLock(library / "run") as lock:
        lock.acquire("index")
        assert [j["state"] for j in json.loads(run_gallerfs(library, "jobs", "--json").stdout)] == ["running"]
        proc = run_gallerfs(library, "index", check=False)
        assert proc.returncode == 4 and "already indexing" in proc.stderr
    assert [j["state"] for j in json.loads(run_gallerfs(library, "jobs", "--json").stdout)] == ["interrupted"]
