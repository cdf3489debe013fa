"""'gallerfs search' with query understanding: filters from the query's words, CLIP on the rest,
newest first when nothing is left, filters alone (with a note) without a model, --explain."""

from __future__ import annotations

import json
from pathlib import Path

import apsw
import pytest

from tests import clipmodel
from tests.conftest import run_gallerfs

ITALY, SPAIN = (43.4628, 11.8807), (40.4165, -3.7026)


def _set_gps(library: Path, name: str, lat: float, lon: float) -> None:
    conn = apsw.Connection(str(library / "library.sqlite3"))
    try:
        conn.execute("UPDATE metadata SET latitude = ?, longitude = ? WHERE file_id = (SELECT id FROM files "
                     "WHERE name = ?)", (lat, lon, name.encode()))  # fmt: skip
    finally:
        conn.close()


@pytest.fixture
def placed(tmp_path: Path, library: Path) -> Path:
    photos = tmp_path / "Photos"
    photos.mkdir()
    for i, colour in enumerate(["red", "red", "green", "blue"]):
        clipmodel.colour_photo(photos / f"{colour}{i}.jpg", colour, i)
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    for i, (colour, where) in enumerate([("red", ITALY), ("red", SPAIN), ("green", ITALY)]):
        _set_gps(library, f"{colour}{i}.jpg", *where)
    assert "3 files placed" in run_gallerfs(library, "index").stdout
    return library


def _names(stdout: str) -> list[str]:
    return [Path(h["relpath"]).name for h in json.loads(stdout)]


def test_without_a_model_the_filters_alone_answer(placed: Path):
    proc = run_gallerfs(placed, "search", "Italy", "--json")
    assert sorted(_names(proc.stdout)) == ["green2.jpg", "red0.jpg"] and proc.stderr == ""
    proc = run_gallerfs(placed, "search", "red photos in Italy", "--json")
    assert sorted(_names(proc.stdout)) == ["green2.jpg", "red0.jpg"]
    assert proc.stderr.strip() == ("gallerfs: no CLIP model is installed, so \u201cred\u201d was ignored "
                                   "('gallerfs models install')")  # fmt: skip
    proc = run_gallerfs(placed, "search", "red", check=False)  # nothing to filter by: as before
    assert proc.returncode == 5 and "gallerfs models install" in proc.stderr
    assert _names(run_gallerfs(placed, "search", "photos", "--place", "Spain", "--json").stdout) == ["red1.jpg"]
    text = run_gallerfs(placed, "search", "Tuscany").stdout.splitlines()
    assert len(text) == 2 and all(line.split()[1].startswith("/") for line in text)  # no score column


def test_explain_prints_the_interpretation(placed: Path):
    out = run_gallerfs(placed, "search", "--explain", "Arezzo 2019").stdout.splitlines()
    assert out[0] == ("understood: place \u201cArezzo\u201d = Arezzo (city in Italy); date \u201c2019\u201d = "
                      "2019-01-01 to 2019-12-31; no content words: newest first")  # fmt: skip
    assert out[1:] == ["no matches"]  # the files are dated now, not 2019
    data = json.loads(run_gallerfs(placed, "search", "--explain", "--json", "sunset in Italy").stdout)
    assert data["interpretation"]["content"] == "sunset"
    assert data["interpretation"]["filters"] == {"places": ["Italy"]}
    assert [p["kind"] for p in data["interpretation"]["parts"]] == ["place"]
    assert sorted(Path(h["relpath"]).name for h in data["results"]) == ["green2.jpg", "red0.jpg"]


def test_with_a_model_clip_ranks_only_the_content_words_within_the_filters(placed: Path, tmp_path: Path):
    folder = tmp_path / "model-files"
    manifest = clipmodel.write_model_dir(folder)
    run_gallerfs(placed, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(placed, "index")
    assert _names(run_gallerfs(placed, "search", "red photos taken in Spain", "--json").stdout) == ["red1.jpg"]
    italy = _names(run_gallerfs(placed, "search", "green in Italy", "--json").stdout)
    assert italy[0] == "green2.jpg" and set(italy) <= {"green2.jpg", "red0.jpg"}
    assert sorted(_names(run_gallerfs(placed, "search", "red", "--json").stdout)) == ["red0.jpg", "red1.jpg"]
    assert sorted(_names(run_gallerfs(placed, "search", "Italy", "--json").stdout)) == ["green2.jpg", "red0.jpg"]
