"""Faces and people on real photos: detection, clustering, the user's decisions, export.

The portraits: tests/data/faces/ holds obama.jpg, obama2.jpg, obama3.jpg (three different photographs of
Barack Obama) and biden.jpg (Joe Biden), downscaled to 1000 px from the test images that ship in the
face_recognition 1.3.0 sdist on PyPI (MIT, see LICENSE-face_recognition there); skimage.data.astronaut()
is a real photograph of Eileen Collins, and the corpus' immich portrait another person.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import EXIF_CORPUS, PROJECT

FACES = PROJECT / "tests" / "data" / "faces"

pytest.importorskip("dlib")
from gallerfs.indexer import faces as faces_job  # noqa: E402

if not faces_job.available():
    pytest.skip("the faces extra is not installed", allow_module_level=True)


@pytest.fixture(autouse=True, scope="module")
def _faces_on():
    """This module is about the faces job: run it (tests/conftest.py leaves analysis off elsewhere)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GALLERFS_ANALYSIS", "faces")
        yield


def astronaut_path() -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / "astronaut.png"


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    src = tmp_path / "photos"
    (src / "trip").mkdir(parents=True)
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
        shutil.copy(FACES / name, src / "trip" / name)
    shutil.copy(FACES / "biden.jpg", src / "biden.jpg")
    shutil.copy(astronaut_path(), src / "astronaut.png")
    shutil.copy(EXIF_CORPUS / "immich" / "metadata" / "faces" / "portrait.jpg", src / "portrait.jpg")
    return src


def people(cli) -> list[dict]:
    return json.loads(cli("people", "--json").stdout)


def by_photos(cli, library: Path) -> dict[frozenset[str], dict]:
    """Each person keyed by the names of the photos they are in."""
    out = {}
    for p in people(cli):
        shown = json.loads(cli("people", "show", str(p["id"]), "--json").stdout)
        out[frozenset(os.path.basename(f["path"]) for f in shown["face_list"])] = {**p, "faces_": shown["face_list"]}
    return out


def test_one_person_in_different_photos_is_one_person_and_others_are_not(cli, photos, library) -> None:
    cli("add", str(photos))
    out = cli("index").stdout
    assert "faces: 6 photos scanned, 6 faces found, 0 failed" in out
    groups = by_photos(cli, library)
    assert set(groups) == {frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"}), frozenset({"biden.jpg"}),
                           frozenset({"astronaut.png"}), frozenset({"portrait.jpg"})}  # fmt: skip
    listed = people(cli)
    assert listed[0]["photos"] == 3 and listed[0]["label"] == f"person {listed[0]['id']}"  # largest first
    # Boxes are in the original's pixels: Eileen Collins' face on the 512 px astronaut is about 90 px.
    face = groups[frozenset({"astronaut.png"})]["faces_"][0]
    assert 150 < face["x"] < 200 and 50 < face["y"] < 100 and 70 < face["w"] < 110


def test_names_stick_across_reindexing_and_new_photos_join_the_named_person(cli, photos, library) -> None:
    cli("add", str(photos))
    cli("index")
    obama = by_photos(cli, library)[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    assert "is now 'Barack'" in cli("people", "name", str(obama["id"]), "Barack").stdout
    # Edit one photo (new size and mtime: its faces are found again) and add a new one (mirrored).
    with Image.open(photos / "trip" / "obama2.jpg") as im:
        im.save(photos / "trip" / "obama2.jpg", quality=70)
    with Image.open(photos / "trip" / "obama.jpg") as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photos / "new.jpg", quality=90)
    out = cli("index").stdout
    assert "faces: 2 photos scanned, 2 faces found" in out
    barack = json.loads(cli("people", "show", "barack", "--json").stdout)  # names match case-insensitively
    assert barack["id"] == obama["id"] and barack["name"] == "Barack"
    assert sorted(os.path.basename(f["path"]) for f in barack["face_list"]) == ["new.jpg", "obama.jpg", "obama2.jpg",
                                                                                "obama3.jpg"]  # fmt: skip
    # A full re-cluster keeps the name and the person.
    cli("people", "recluster")
    assert json.loads(cli("people", "show", "Barack", "--json").stdout)["photos"] == 4
    # A deleted photo takes its faces along, and an unnamed person left with none goes too.
    (photos / "biden.jpg").unlink()
    cli("index")
    assert len(people(cli)) == 3 and json.loads(cli("people", "show", "Barack", "--json").stdout)["photos"] == 4


def test_merge_split_and_remove_face_survive_reclustering(cli, photos, library) -> None:
    cli("add", str(photos))
    cli("index")
    groups = by_photos(cli, library)
    obama = groups[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    biden = groups[frozenset({"biden.jpg"})]
    # Merge (a wrong one on purpose) and then undo it by splitting Biden's face off with a name.
    cli("people", "merge", str(obama["id"]), str(biden["id"]))
    assert json.loads(cli("people", "show", str(obama["id"]), "--json").stdout)["photos"] == 4
    biden_face = biden["faces_"][0]["id"]
    assert "into Joe" in cli("people", "split", str(biden_face), "--name", "Joe").stdout
    cli("people", "recluster")
    assert json.loads(cli("people", "show", "Joe", "--json").stdout)["faces"] == 1
    assert json.loads(cli("people", "show", str(obama["id"]), "--json").stdout)["photos"] == 3
    # "Not this person": the obama3 face leaves and is never put back, even by a re-cluster.
    face3 = next(f["id"] for f in obama["faces_"] if f["path"].endswith("obama3.jpg"))
    cli("people", "remove-face", str(face3))
    cli("people", "recluster")
    shown = json.loads(cli("people", "show", str(obama["id"]), "--json").stdout)
    assert sorted(os.path.basename(f["path"]) for f in shown["face_list"]) == ["obama.jpg", "obama2.jpg"]
    assert len(people(cli)) == 5  # obama3's face is a person of its own now
    # Errors are one line and exit 1.
    proc = cli("people", "name", "nobody", "X", check=False)
    assert proc.returncode == 1 and "no person 'nobody'" in proc.stderr
    proc = cli("people", "name", str(obama["id"]), "Joe", check=False)
    assert proc.returncode == 1 and "already called 'Joe'" in proc.stderr


def test_export_and_import_keep_people(cli, photos, library, tmp_path) -> None:
    cli("add", str(photos))
    cli("index")
    obama = by_photos(cli, library)[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    cli("people", "name", str(obama["id"]), "Barack")
    cli("export", str(tmp_path / "lib.json"))
    data = json.loads((tmp_path / "lib.json").read_text())
    assert len(data["people"]["faces"]) == 6 and len(data["people"]["faces"][0]["embedding"]) == 128
    assert [p["name"] for p in data["people"]["persons"] if p["name"]] == ["Barack"]
    other = tmp_path / "other"
    other.mkdir()
    from tests.conftest import run_gallerfs

    run_gallerfs(other, "import", str(tmp_path / "lib.json"))
    shown = json.loads(run_gallerfs(other, "people", "show", "Barack", "--json").stdout)
    assert shown["photos"] == 3


def test_boxes_are_in_upright_original_pixels_on_a_large_rotated_photo(tmp_path) -> None:
    """A 12-MP photo stored sideways (EXIF orientation 6) is looked at downscaled and upright; the box
    comes back in the upright original's pixels."""
    model = faces_job.shared_model()
    with Image.open(FACES / "obama.jpg") as im:
        small = im.convert("RGB")
    ref = model.faces(faces_job.load_for_detection(FACES / "obama.jpg", None, 10**9)[0])
    assert len(ref) == 1
    factor = 4
    big = small.resize((small.width * factor, small.height * factor), Image.Resampling.BICUBIC)
    stored = big.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 turns upright again
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "big.jpg"
    stored.save(path, quality=90, exif=exif)
    rgb, scale = faces_job.load_for_detection(path, None, 10**9)
    assert rgb.shape[0] * rgb.shape[1] < 1_400_000 and rgb.shape[0] > rgb.shape[1]  # about 1 MP, upright
    found = model.faces(rgb, scale)
    assert len(found) == 1
    for got, want in ((found[0].x, ref[0].x), (found[0].y, ref[0].y), (found[0].w, ref[0].w)):
        assert abs(got - want * factor) < 0.15 * ref[0].w * factor
    far = sum((a - b) ** 2 for a, b in zip(found[0].embedding, ref[0].embedding)) ** 0.5
    assert far < 0.3


def test_a_broken_photo_is_recorded_and_the_job_goes_on(cli, photos, library) -> None:
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    cli("add", str(photos))
    out = cli("index").stdout
    assert "6 faces found" in out
    assert len(people(cli)) == 4


def test_without_the_extra_the_stage_says_so_and_does_nothing(tmp_path, monkeypatch) -> None:
    from gallerfs import config
    from gallerfs.db.connection import Database
    from gallerfs.paths import resolve_library

    monkeypatch.setattr(faces_job, "available", lambda: False)
    paths = resolve_library(tmp_path / "lib")
    paths.ensure()
    with Database(paths.db) as db:
        report = faces_job.scan_library(db, paths, config.Settings())
    assert report.as_dict()["summary"] == "skipped: face recognition is not installed (pip install 'gallerfs[faces]')"


def test_people_folders_in_a_real_mount_list_each_persons_photos(cli, photos, library) -> None:
    from tests.mountutil import Mount, wait_until

    cli("add", str(photos))
    cli("index")
    obama = by_photos(cli, library)[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    biden = by_photos(cli, library)[frozenset({"biden.jpg"})]
    cli("people", "name", str(obama["id"]), "Barack")
    with Mount(library, library.parent / "mnt") as m:
        people_dir = m.path / "people"
        names = sorted(os.listdir(people_dir))
        assert "Barack" in names and f"person {biden['id']}" in names and len(names) == 4
        assert sorted(os.listdir(people_dir / "Barack")) == ["obama.jpg", "obama2.jpg", "obama3.jpg"]
        assert (people_dir / "Barack" / "obama2.jpg").read_bytes() == (photos / "trip" / "obama2.jpg").read_bytes()
        assert os.listdir(people_dir / f"person {biden['id']}") == ["biden.jpg"]
        # A rename while mounted shows up (the listing follows the library's generation).
        cli("people", "name", str(biden["id"]), "Joe")
        assert wait_until(lambda: "Joe" in os.listdir(people_dir))
        assert os.listdir(people_dir / "Joe") == ["biden.jpg"]
        try:
            os.mkdir(people_dir / "Nobody")
        except OSError as exc:
            assert exc.errno in (errno.EROFS, errno.EPERM, errno.ENOSYS)
        else:
            raise AssertionError("mkdir in people/ worked")


def test_people_page_renames_merges_and_splits_and_a_person_filters_the_grid(cli, photos, library) -> None:
    import re

    from tests.viewer_support import HOST, make_app

    cli("add", str(photos))
    cli("index")
    groups = by_photos(cli, library)
    obama = groups[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    biden = groups[frozenset({"biden.jpg"})]
    app = make_app(library)
    client = app.test_client()
    page = client.get("/people", headers=HOST)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"person {obama['id']}" in html and 'href="/people"' in html  # the person, the nav link
    assert 'data-url="/people"' in html  # the palette's entry
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    url = f"/people/{obama['id']}/rename"
    assert client.post(url, data={"name": "Barack"}, headers=HOST).status_code == 403  # no CSRF token
    r = client.post(url, data={"name": "Barack", "csrf_token": token}, headers=HOST)
    assert r.status_code == 303
    assert json.loads(cli("people", "show", "Barack", "--json").stdout)["id"] == obama["id"]  # the CLI sees it
    assert "Barack" in client.get("/people", headers=HOST).get_data(as_text=True)
    r = client.post(f"/people/{biden['id']}/rename", data={"name": "Barack", "csrf_token": token}, headers=HOST)
    assert r.status_code == 400  # a name another person has
    # The person filter: the grid, and a bad name is a clear 400.
    assert client.get("/api/grid?person=Barack", headers=HOST).get_json()["total"] == 3
    assert client.get(f"/api/grid?person={biden['id']}", headers=HOST).get_json()["total"] == 1
    assert client.get("/api/grid?person=Nobody", headers=HOST).status_code == 400
    grid = client.get("/?person=Barack", headers=HOST).get_data(as_text=True)  # the filter bar keeps it
    assert re.search(r'<select name="person">.*<option selected>Barack</option>', grid)
    assert "3 photo" in grid or ">3<" in grid
    # Face crops by id, from the preview thumbnail.
    cover = next(p for p in people(cli) if p["id"] == obama["id"])["cover_face"]
    r = client.get(f"/face/{cover}.jpg", headers=HOST)
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.headers["ETag"]
    with Image.open(__import__("io").BytesIO(r.data)) as crop:
        assert max(crop.size) <= 160 and min(crop.size) > 60
    assert client.get(f"/face/{cover}.jpg", headers={**HOST, "If-None-Match": r.headers["ETag"]}).status_code == 304
    assert client.get("/face/999999.jpg", headers=HOST).status_code == 404
    # Merge Biden in, then split his face back off under a name, from the person page.
    person_page = client.get(f"/people/{obama['id']}", headers=HOST).get_data(as_text=True)
    assert f'value="{biden["id"]}"' in person_page
    r = client.post(f"/people/{obama['id']}/merge", data={"other": str(biden["id"]), "csrf_token": token}, headers=HOST)
    assert r.status_code == 303
    assert client.get("/api/grid?person=Barack", headers=HOST).get_json()["total"] == 4
    biden_face = biden["faces_"][0]["id"]
    r = client.post(f"/people/{obama['id']}/split", data={"face": str(biden_face), "name": "Joe", "csrf_token": token},
                    headers=HOST)  # fmt: skip
    assert r.status_code == 303
    assert client.get("/api/grid?person=Barack", headers=HOST).get_json()["total"] == 3
    assert client.get("/api/grid?person=joe", headers=HOST).get_json()["total"] == 1


def test_search_takes_a_person_filter(cli, photos, library, tmp_path) -> None:
    from tests import clipmodel

    folder = tmp_path / "model-files"
    manifest = clipmodel.write_model_dir(folder)
    cli("models", "import", str(folder), "--manifest", str(manifest))
    cli("add", str(photos))
    cli("index")
    obama = by_photos(cli, library)[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    cli("people", "name", str(obama["id"]), "Barack")
    cli("config", "set", "search_relative_cutoff", "0")  # the test model's scores mean nothing: keep every hit
    hits = json.loads(cli("search", "a man in a suit", "--person", "Barack", "--json").stdout)
    assert sorted(os.path.basename(h["path"]) for h in hits) == ["obama.jpg", "obama2.jpg", "obama3.jpg"]
    proc = cli("search", "a man", "--person", "Nobody", check=False)
    assert proc.returncode == 1 and "no person 'Nobody'" in proc.stderr


def test_completion_offers_person_names(tmp_path, monkeypatch) -> None:
    from gallerfs.cli.complete import candidates
    from gallerfs.db import faces as faces_db
    from gallerfs.db.connection import Database
    from gallerfs.paths import resolve_library

    paths = resolve_library(tmp_path / "lib")
    paths.ensure()
    with Database(paths.db) as db, db.transaction():
        faces_db.new_person(db, "Grandma")
        faces_db.new_person(db, "Uncle Bob")
        faces_db.new_person(db)  # unnamed: completed by id, not offered
    monkeypatch.setenv("GALLERFS_LIBRARY", str(paths.root))
    assert candidates(["people", "name"], "") == ["Grandma", "Uncle Bob"]
    assert candidates(["people", "name", "Grandma"], "") == []  # the new name
    assert candidates(["people", "merge", "Grandma"], "") == ["Grandma", "Uncle Bob"]
    assert candidates(["search", "cake", "--person"], "") == ["Grandma", "Uncle Bob"]
    assert "recluster" in candidates(["people"], "")


def test_a_killed_job_resumes_with_the_files_still_to_do(cli, photos, library) -> None:
    """Killed after the first batch, the job is resumed by the next run, which scans only the rest."""
    from gallerfs import config
    from gallerfs.db import jobs as jobs_db
    from gallerfs.db.connection import Database
    from gallerfs.paths import resolve_library

    for i in range(faces_job.BATCH):  # more photos than one batch
        shutil.copy(FACES / "biden.jpg", photos / f"copy{i:02d}.jpg")
    cli("add", str(photos))
    cli("index", "--scan-only")
    paths = resolve_library(library)
    settings = config.load(paths.config_file)
    real = faces_job.shared_model()

    class Killed(faces_job.FaceModel):
        calls = 0

        def __init__(self) -> None:
            pass

        def faces(self, rgb, scale=(1.0, 1.0)):
            Killed.calls += 1
            if Killed.calls > faces_job.BATCH:
                raise KeyboardInterrupt  # the process is killed in the second batch
            return real.faces(rgb, scale)

    total = faces_job.BATCH + 6
    with Database(paths.db) as db:
        with pytest.raises(KeyboardInterrupt):
            faces_job.scan_library(db, paths, settings, model=Killed())
        job = next(j for j in jobs_db.list_jobs(db) if j.kind == "faces")
        assert job.state == "failed" and job.done == faces_job.BATCH and job.total == total
        counted = []
        report = faces_job.scan_library(db, paths, settings, counted.append, model=real)
        assert sum(counted) == report.scanned == total - faces_job.BATCH
        assert faces_job.scan_library(db, paths, settings, model=real).scanned == 0  # nothing left
    groups = by_photos(cli, library)
    assert frozenset({"biden.jpg", *(f"copy{i:02d}.jpg" for i in range(faces_job.BATCH))}) in groups


def test_the_people_signal_scores_the_photos_of_the_people_a_query_names(cli, photos, library) -> None:
    from gallerfs.db.connection import Database
    from gallerfs.search import people_signal
    from gallerfs.search.filters import scope

    assert people_signal.named_in("Uncle Bob's birthday with bob", ["Bob", "Uncle Bob", "Bo"]) == ["Uncle Bob", "Bob"]
    assert people_signal.named_in("bobsleigh", ["Bob"]) == []
    cli("add", str(photos))
    cli("index")
    groups = by_photos(cli, library)
    obama = groups[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    biden = groups[frozenset({"biden.jpg"})]
    cli("people", "name", str(obama["id"]), "Barack")
    cli("people", "name", str(biden["id"]), "Joe")
    with Database(library / "library.sqlite3", readonly=True) as db:
        assert people_signal.for_query(db, "a red car") is None
        signal = people_signal.for_query(db, "barack and JOE at the white house")
        assert signal is not None and signal.names == ("Barack", "Joe")
        scores = signal.scores(db, scope(db, None), 10)
        assert sorted(scores.values()) == [0.5] * 4
        assert signal.scores(db, scope(db, None), 2) == {max(scores): 0.5, sorted(scores)[-2]: 0.5}  # top k, newest ids


def test_corpus_faces_in_every_orientation_and_small_old_faces(cli, tmp_path, library) -> None:
    """The corpus' Grace Hopper photo stored in eight EXIF orientations is one person with the same
    upright box in every file; a small face in an old black-and-white portrait stays apart from a modern
    portrait it lies 0.53 from (the reason face_distance is 0.5, not dlib's 0.6)."""
    src = tmp_path / "corpus"
    src.mkdir()
    pillow = EXIF_CORPUS / "pillow"
    hoppers = [pillow / "hopper.jpg", *sorted(pillow.glob("hopper_orientation_*"))]  # (hopper_bad_exif.jpg: no
    assert len(hoppers) >= 9                                                          # frontal face in it)
    for p in hoppers:
        shutil.copy(p, src / p.name)
    shutil.copy(EXIF_CORPUS / "exif-samples" / "tiff" / "DudleyLeavittUtah.tiff", src / "DudleyLeavittUtah.tiff")
    shutil.copy(EXIF_CORPUS / "immich" / "metadata" / "faces" / "portrait.jpg", src / "portrait.jpg")
    shutil.copy(EXIF_CORPUS / "immich" / "metadata" / "faces" / "portrait-orientation-6.jpg", src / "portrait6.jpg")
    cli("add", str(src))
    cli("index")
    groups = by_photos(cli, library)
    assert frozenset(p.name for p in hoppers) in groups
    assert frozenset({"portrait.jpg", "portrait6.jpg"}) in groups
    assert frozenset({"DudleyLeavittUtah.tiff"}) in groups
    boxes = {(f["x"], f["y"], f["w"], f["h"]) for f in groups[frozenset(p.name for p in hoppers)]["faces_"]}
    assert len(boxes) == 1  # the same upright box, whatever the stored orientation


def test_watch_finds_the_faces_of_new_photos(cli, photos, library) -> None:
    import signal
    import subprocess
    import sys
    import time

    from gallerfs.db.connection import Database
    from tests.conftest import gallerfs_env

    cli("add", str(photos))
    cli("index")
    obama = by_photos(cli, library)[frozenset({"obama.jpg", "obama2.jpg", "obama3.jpg"})]
    cli("people", "name", str(obama["id"]), "Barack")
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        photos_of = "SELECT count(DISTINCT file_id) FROM faces WHERE person_id = ?"
        time.sleep(2)  # the initial scan, then the observer
        with Image.open(photos / "trip" / "obama2.jpg") as im:
            im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photos / "arrived.jpg", quality=90)
        deadline = time.monotonic() + 40
        while db.value(photos_of, (obama["id"],)) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert db.value(photos_of, (obama["id"],)) == 4
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        db.close()
    assert proc.returncode == 0
