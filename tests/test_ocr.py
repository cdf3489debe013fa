"""Text in photos: the OCR job on real photographs of text (scikit-image's data.page(), a scanned
page photographed; data.text(), handwritten maths on paper), indexed end to end, searched with
``search --text`` and by the fused search, without the extra, and with a source switched off."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import apsw
import pytest
from PIL import Image
from skimage import data

from gallerfs.config import Settings
from gallerfs.db import ocr as ocr_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.indexer.ocr import ocr_library
from gallerfs.paths import LibraryPaths
from tests.conftest import gallerfs_env, run_gallerfs

# Words printed on data.page() (checked by reading it here): its heading and body text.
PAGE_WORDS = ("region", "segmentation", "markers", "coins", "background", "pixels", "histogram")

@pytest.fixture(autouse=True, scope="module")
def _ocr_on():
    """This module is about the OCR job: run it (tests/conftest.py leaves analysis off elsewhere)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GALLERFS_ANALYSIS", "ocr")
        yield


# Runs gallerfs with the 'ocr' extra blocked, as on an installation without it.
BLOCKED = ("import runpy, sys; sys.modules['rapidocr'] = None; sys.argv = ['gallerfs', *sys.argv[1:]]; "
           "runpy.run_module('gallerfs', run_name='__main__')")  # fmt: skip


def _photos(folder: Path) -> None:
    folder.mkdir(parents=True)
    Image.fromarray(data.page()).save(folder / "page.png")
    Image.fromarray(data.page()).convert("RGB").save(folder / "page-photo.jpg", quality=90)
    Image.fromarray(data.text()).save(folder / "maths.jpg", quality=92)
    Image.fromarray(data.astronaut()).save(folder / "astronaut.jpg", quality=90)


def _query(library: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = apsw.Connection(str(library / "library.sqlite3"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _blocked(library: Path, *args: str):
    import subprocess

    return subprocess.run([sys.executable, "-c", BLOCKED, *args], env=gallerfs_env(library), capture_output=True,
                          text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def indexed(tmp_path_factory) -> tuple[Path, Path]:
    """A library with the four photos indexed end to end (phase 2, then the OCR job)."""
    base = tmp_path_factory.mktemp("ocr")
    photos, library = base / "Photos", base / "library"
    _photos(photos)
    library.mkdir()
    run_gallerfs(library, "add", str(photos))
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 4 and out["stages"]["ocr"]["failed"] == 0
    return photos, library


def _text_of(library: Path, name: str) -> str:
    rows = _query(library, "SELECT o.text FROM ocr o JOIN files f ON f.id = o.file_id WHERE f.name = ?",
                  (name.encode(),))  # fmt: skip
    assert rows, f"{name} was not read"
    return rows[0][0].lower()


def test_the_job_reads_the_words_printed_in_real_photos(indexed) -> None:
    _, library = indexed
    for name in ("page.png", "page-photo.jpg"):
        text = _text_of(library, name)
        assert all(word in text for word in PAGE_WORDS), text
    # Handwritten maths and a portrait hold no printed words: nothing is invented for them.
    assert not any(word in _text_of(library, "maths.jpg") for word in PAGE_WORDS)
    assert not any(word in _text_of(library, "astronaut.jpg") for word in PAGE_WORDS)
    lines = _query(library, "SELECT l.text, l.confidence, l.box FROM ocr_lines l JOIN files f ON f.id = l.file_id "
                            "WHERE f.name = ? ORDER BY l.line", (b"page.png",))  # fmt: skip
    assert lines[0][0] == "Region-based segmentation" and lines[0][1] > 0.9
    box = json.loads(lines[0][2])
    assert len(box) == 4 and all(0 <= x <= 1 and 0 <= y <= 1 for x, y in box)
    assert max(y for _, y in box) < 0.3  # the heading is at the top of the page
    jobs = _query(library, "SELECT state, done, failed FROM jobs WHERE kind = 'ocr'")
    assert jobs == [("done", 4, 0)]
    # Nothing left to do: a second index reads nothing again.
    again = json.loads(run_gallerfs(library, "index", "--json").stdout)["stages"]["ocr"]
    assert again["read"] == 0 and again["summary"] is None


def _names(proc) -> list[str]:
    return [Path(r["relpath"]).name for r in json.loads(proc.stdout)]


def test_search_text_finds_the_photo_by_a_word_printed_in_it(indexed) -> None:
    _, library = indexed
    pages = ["page-photo.jpg", "page.png"]
    assert sorted(_names(run_gallerfs(library, "search", "--text", "histogram", "--json"))) == pages
    assert sorted(_names(run_gallerfs(library, "search", "--text", "segment", "--json"))) == pages  # a prefix
    assert sorted(_names(run_gallerfs(library, "search", "--text", "HISTOGRAM grey", "--json"))) == pages
    assert sorted(_names(run_gallerfs(library, "search", "--text", '"grey values"', "--json"))) == pages
    assert _names(run_gallerfs(library, "search", "--text", '"values grey"', "--json")) == []  # a phrase is in order
    assert _names(run_gallerfs(library, "search", "--text", "histogram zebra", "--json")) == []  # every word
    assert _names(run_gallerfs(library, "search", "--text", "histogram", "--kind", "raw", "--json")) == []  # filters
    proc = run_gallerfs(library, "search", "--text", "zebra")
    assert proc.stdout.strip() == "no photo has this text"
    proc = run_gallerfs(library, "search", "--text", "histogram", "--explain", "--json")
    assert all(set(r["signals"]) == {"ocr"} for r in json.loads(proc.stdout))
    proc = run_gallerfs(library, "search", "--text", "!!", check=False)
    assert proc.returncode == 1 and "no letters or digits" in proc.stderr
    proc = run_gallerfs(library, "search", "dog", "--text", "histogram", check=False)
    assert proc.returncode == 1 and "not both" in proc.stderr


def test_the_fused_search_finds_text_without_clip_and_says_so(indexed) -> None:
    _, library = indexed
    proc = run_gallerfs(library, "search", "the segmentation of coins from the background", "--explain", "--json")
    explained = json.loads(proc.stdout)
    rows = explained["results"]
    assert explained["interpretation"]["signals"] == ["ocr"]
    assert sorted(Path(r["relpath"]).name for r in rows) == ["page-photo.jpg", "page.png"]
    assert all(r["signals"]["ocr"] > 0.9 for r in rows)  # every word found (stopwords left out)
    partial = json.loads(run_gallerfs(library, "search", "a page about segmentation", "--explain", "--json").stdout)
    partial = partial["results"]
    assert all(0.3 < r["signals"]["ocr"] < 0.6 for r in partial)  # 'page' and 'about' are not printed on it
    notice = proc.stderr.strip().splitlines()
    assert len(notice) == 1 and "no CLIP model is installed" in notice[0] and "results come from ocr only" in notice[0]
    proc = run_gallerfs(library, "search", "zebra crossing", check=False)  # no text match, no CLIP: install it
    assert proc.returncode == 5 and "gallerfs models install" in proc.stderr


def test_export_carries_the_text_and_import_restores_it(indexed, tmp_path: Path) -> None:
    _, library = indexed
    target = tmp_path / "export.json"
    run_gallerfs(library, "export", str(target))
    exported = json.loads(target.read_text())
    assert len(exported["ocr"]) == 4
    page = next(r for r in exported["ocr"] if any(line["text"] == "Region-based segmentation" for line in r["lines"]))
    assert page["state"] == "done" and page["engine"].startswith("rapidocr")
    other = tmp_path / "restored"
    other.mkdir()
    run_gallerfs(other, "import", str(target))
    assert len(_names(run_gallerfs(other, "search", "--text", "histogram", "--json"))) == 2


def test_without_the_extra_ocr_is_skipped_with_one_line(tmp_path: Path, library: Path) -> None:
    photos = tmp_path / "Photos"
    _photos(photos)
    run_gallerfs(library, "add", str(photos))
    proc = _blocked(library, "index")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ocr:")]
    assert lines == ["ocr: text in photos skipped: rapidocr not installed (install with: pip install 'gallerfs[ocr]')"]
    assert _query(library, "SELECT count(*) FROM ocr") == [(0,)]
    assert _query(library, "SELECT count(*) FROM jobs WHERE kind = 'ocr'") == [(0,)]
    proc = _blocked(library, "models", "list", "--json")
    ocr = next(r for r in json.loads(proc.stdout) if r["kind"] == "ocr")
    assert ocr["installed"] is False and ocr["missing_modules"] == ["rapidocr"]
    assert ocr["todo"] == "pip install 'gallerfs[ocr]'"
    proc = _blocked(library, "search", "--text", "histogram")
    assert "no photo has been read for text yet" in proc.stdout and "gallerfs[ocr]" in proc.stdout
    # Installed again (here: not blocked), the next index reads the photos.
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 4


def test_a_source_switched_off_is_not_read_until_switched_on(tmp_path: Path, library: Path) -> None:
    on, off = tmp_path / "on", tmp_path / "off"
    on.mkdir()
    off.mkdir()
    Image.fromarray(data.page()).save(on / "page.png")
    Image.fromarray(data.page()).save(off / "page.png")
    run_gallerfs(library, "add", str(on), str(off))
    proc = run_gallerfs(library, "sources", "set", "off", "--no-ocr")
    assert proc.stdout.strip() == "off: ocr off, faces on, tags on"
    assert "analysis off: ocr" in run_gallerfs(library, "sources").stdout
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 1 and out["stages"]["ocr"]["sources_off"] == 1
    assert [r["source"] for r in json.loads(run_gallerfs(library, "search", "--text", "histogram", "--json").stdout)] == ["on"]
    run_gallerfs(library, "sources", "set", "off", "--ocr")
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 1
    assert len(json.loads(run_gallerfs(library, "search", "--text", "histogram", "--json").stdout)) == 2
    proc = run_gallerfs(library, "sources", "set", "nowhere", "--ocr", check=False)
    assert proc.returncode != 0 and "no source named 'nowhere'" in proc.stderr


class _Reader:
    """Stands in for the OCR engine: one line per image, a crash on the second, an interruption later."""

    def __init__(self, fail_at: int = -1, interrupt_at: int = -1) -> None:
        self.calls = 0
        self.fail_at, self.interrupt_at = fail_at, interrupt_at

    def read(self, image):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        if self.calls == self.fail_at:
            raise RuntimeError("engine broke")
        return [ocr_db.OcrLine(f"shape {image.shape[1]}x{image.shape[0]}", 0.9, ((0, 0), (1, 0), (1, 1), (0, 1)))]


def test_the_analysis_variable_leaves_ocr_out(tmp_path: Path, library: Path, monkeypatch) -> None:
    photos = tmp_path / "Photos"
    photos.mkdir()
    Image.fromarray(data.page()).save(photos / "page.png")
    run_gallerfs(library, "add", str(photos))
    monkeypatch.setenv("GALLERFS_ANALYSIS", "faces, tags")
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 0 and out["stages"]["ocr"]["summary"] is None
    monkeypatch.delenv("GALLERFS_ANALYSIS")  # unset: every installed job runs
    out = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert out["stages"]["ocr"]["read"] == 1


def test_failures_are_recorded_and_an_interrupted_job_resumes(tmp_path: Path, library: Path) -> None:
    photos = tmp_path / "Photos"
    photos.mkdir()
    for i in range(40):
        Image.fromarray(data.camera()[: 100 + i, : 120]).save(photos / f"{i:02d}.png")
    run_gallerfs(library, "add", str(photos))
    _blocked(library, "index")  # phase 2 only: the OCR job is the one under test
    paths = LibraryPaths(root=library, config_file=library / "config.toml")
    settings = Settings()
    with Database(paths.db) as db:
        source = sources_db.list_sources(db)[0]
        assert sources_db.analysis_enabled(db, source.id, "ocr") and sources_db.analysis_enabled(db, source.id, "tags")
        with pytest.raises(KeyboardInterrupt):
            ocr_library(db, paths, settings, reader=_Reader(fail_at=2, interrupt_at=30))
        assert ocr_db.counts(db) == {"read": 15, "failed": 1, "with_text": 15}  # the batches before the interruption
        failure = db.row("SELECT stage, error FROM failures WHERE stage = 'ocr'")
        assert failure["error"] == "internal error: RuntimeError('engine broke')"
        reader = _Reader()
        report = ocr_library(db, paths, settings, reader=reader)
        assert (reader.calls, report.read, report.failed) == (24, 24, 0)  # only what was left
        assert ocr_db.counts(db) == {"read": 39, "failed": 1, "with_text": 39}
        with pytest.raises(sources_db.GallerfsError):
            sources_db.analysis_enabled(db, source.id, "colour")
    with Database(paths.db) as db:  # an edited photo is read again
        first = photos / "00.png"
        Image.fromarray(data.camera()[:64, :64]).save(first)
        os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    _blocked(library, "index")
    with Database(paths.db) as db:
        reader = _Reader()
        ocr_library(db, paths, settings, reader=reader)
        assert reader.calls == 1
        assert [line.text for line in ocr_db.lines_of(db, db.value("SELECT id FROM files WHERE name = ?", (b"00.png",)))] == ["shape 64x64"]


def test_the_viewer_shows_the_text_and_searches_it_without_clip(indexed) -> None:
    from tests.viewer_support import HOST, make_app

    _, library = indexed
    client = make_app(library).test_client()
    page_id = _query(library, "SELECT id FROM files WHERE name = ?", (b"page.png",))[0][0]
    portrait_id = _query(library, "SELECT id FROM files WHERE name = ?", (b"astronaut.jpg",))[0][0]
    html = client.get(f"/photo/{page_id}", headers=HOST).get_data(as_text=True)
    assert 'id="photo-text"' in html and "Region-based segmentation" in html and "histogram of grey values:" in html
    assert 'id="photo-text"' not in client.get(f"/photo/{portrait_id}", headers=HOST).get_data(as_text=True)
    html = client.get("/search?q=histogram+of+grey+values", headers=HOST).get_data(as_text=True)
    shown = {int(i) for i in re.findall(r'href="/photo/(\d+)', html)}
    assert page_id in shown and portrait_id not in shown
    assert "no CLIP model is installed" in html and "results come from ocr only" in html
