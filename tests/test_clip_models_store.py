"""Model manifest, install over HTTP (a local server stands in for the hub), import, verify, messages."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
from pathlib import Path
from typing import Iterator

import pytest

from gallerfs.errors import EXIT_NO_MODEL, GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.models import manifest as manifest_mod
from gallerfs.models import store
from tests import clipmodel
from tests.conftest import run_gallerfs


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with HTTP Range support (as the hub's CDN has), counting requests."""

    requests: list[tuple[str, str | None]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        RangeHandler.requests.append((self.path, self.headers.get("Range")))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])


@contextlib.contextmanager
def hub(folder: Path) -> Iterator[str]:
    handler = functools.partial(RangeHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, Path]]:
    """(folder served, base URL, manifest whose URLs point at it)."""
    folder = tmp_path / "hub"
    clipmodel.write_model_dir(folder)
    with hub(folder) as url:
        manifest = clipmodel.write_model_dir(folder, base_url=url)
        RangeHandler.requests.clear()
        yield folder, url, manifest


def _paths(tmp_path: Path) -> LibraryPaths:
    root = tmp_path / "lib"
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    return paths


def test_shipped_manifest_names_both_towers_with_checksums() -> None:
    m = manifest_mod.load()
    spec = m.get(None)
    assert spec.name == "clip-vit-b-32" and spec.dim == 512
    assert {f.role for f in spec.files} == {"image", "text"}
    for f in spec.files:
        assert len(f.sha256) == 64 and f.url.startswith("https://huggingface.co/") and f.size and f.size > 10**8
    assert (Path(manifest_mod.__file__).parent / "LICENSE-clip-bpe-vocab.txt").is_file()


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d["models"]["test-clip"]["files"]["image"].update(sha256="abc"), "64 hex"),
        (lambda d: d["models"]["test-clip"]["files"].pop("text"), "exactly an 'image' and a 'text'"),
        (lambda d: d["models"]["test-clip"].pop("dim"), "'dim'"),
        (lambda d: d["models"]["test-clip"]["files"]["image"].update(name="../x"), "plain file name"),
        (lambda d: d.update(default="other"), "default model"),
    ],
)
def test_bad_manifests_are_refused(tmp_path: Path, change, message: str) -> None:
    path = clipmodel.write_model_dir(tmp_path)
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(GallerfsError, match=message):
        manifest_mod.load(path)


@pytest.mark.parametrize("where", ["a-file/manifest.json", "a-folder"])
def test_an_unreadable_manifest_path_is_a_clear_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(GallerfsError, match="cannot read the model manifest"):
        manifest_mod.load(tmp_path / where)


def test_install_downloads_verifies_and_places(tmp_path: Path, served) -> None:
    folder, url, manifest = served
    paths = _paths(tmp_path)
    assert not store.is_model_installed(paths)
    with pytest.raises(store.NoModelError) as info:
        store.require_model(paths)
    assert info.value.exit_code == EXIT_NO_MODEL and "gallerfs models install" in str(info.value)
    model = store.install(paths, manifest_mod.load(manifest).get(None))
    assert store.is_model_installed(paths)
    assert store.current_model(paths) == model
    assert model.image_path.read_bytes() == (folder / clipmodel.IMAGE_FILE).read_bytes()
    assert model.text_path.read_bytes() == (folder / clipmodel.TEXT_FILE).read_bytes()
    assert store.verify(model) == []
    assert sorted(p for p, _ in RangeHandler.requests) == sorted(["/" + clipmodel.IMAGE_FILE, "/" + clipmodel.TEXT_FILE])
    assert not list(store.models_dir(paths).glob(".staging-*"))


def test_checksum_mismatch_installs_nothing(tmp_path: Path, served) -> None:
    folder, url, manifest = served
    data = bytearray((folder / clipmodel.TEXT_FILE).read_bytes())
    data[-10] ^= 0xFF  # same size, different content
    (folder / clipmodel.TEXT_FILE).write_bytes(bytes(data))
    paths = _paths(tmp_path)
    with pytest.raises(GallerfsError, match="checksum mismatch"):
        store.install(paths, manifest_mod.load(manifest).get(None))
    assert not store.is_model_installed(paths)
    assert store.installed_models(paths) == []
    assert not list(store.models_dir(paths).rglob("*.part"))  # a bad download is not kept for resuming


def test_interrupted_download_resumes_with_range(tmp_path: Path, served) -> None:
    folder, url, manifest = served
    paths = _paths(tmp_path)
    spec = manifest_mod.load(manifest).get(None)
    staging = store.models_dir(paths) / f".staging-{spec.name}"
    staging.mkdir(parents=True)
    image = (folder / clipmodel.IMAGE_FILE).read_bytes()
    (staging / "image.onnx.part").write_bytes(image[:1000])  # what a killed install left behind
    model = store.install(paths, spec)
    assert model.image_path.read_bytes() == image
    assert ("/" + clipmodel.IMAGE_FILE, "bytes=1000-") in RangeHandler.requests


def test_unreachable_hub_is_one_line_with_the_way_out(tmp_path: Path, served) -> None:
    folder, url, manifest = served
    paths = _paths(tmp_path)
    spec = manifest_mod.load(manifest).get(None)
    with pytest.raises(GallerfsError) as info:
        store.install(paths, spec, mirror="http://127.0.0.1:9")  # nothing listens on port 9
    assert "models import" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(GallerfsError, match="HTTP 404"):
        store.install(paths, spec, mirror=url + "/missing")


def test_import_verify_and_damage(tmp_path: Path) -> None:
    src = tmp_path / "downloads"
    manifest = clipmodel.write_model_dir(src)
    paths = _paths(tmp_path)
    spec = manifest_mod.load(manifest).get(None)
    model = store.import_dir(paths, spec, src)
    assert store.verify(model) == []
    with open(model.text_path, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\xfe")
    problems = store.verify(model)
    assert len(problems) == 1 and "text.onnx" in problems[0] and "checksum" in problems[0]
    (src / clipmodel.IMAGE_FILE).unlink()
    with pytest.raises(GallerfsError, match="has no test-image-tower.onnx"):
        store.import_dir(paths, spec, src)


def test_cli_models_and_no_model_messages(tmp_path: Path, served, library: Path) -> None:
    folder, url, manifest = served
    proc = run_gallerfs(library, "search", "dog", check=False)
    assert proc.returncode == EXIT_NO_MODEL
    assert proc.stderr.strip() == f"gallerfs: {store.NO_MODEL_MESSAGE}"
    proc = run_gallerfs(library, "models", "verify", check=False)
    assert proc.returncode == EXIT_NO_MODEL
    listing = json.loads(run_gallerfs(library, "models", "list", "--json").stdout)
    assert [(r["name"], r["installed"]) for r in listing if r["kind"] == "clip"] == [("clip-vit-b-32", False)]
    out = run_gallerfs(library, "models", "install", "--manifest", str(manifest), "--json").stdout
    assert json.loads(out)["name"] == "test-clip"
    assert "all checksums match" in run_gallerfs(library, "models", "verify").stdout
    listing = json.loads(run_gallerfs(library, "models", "list", "--manifest", str(manifest), "--json").stdout)
    assert [(r["name"], r["current"]) for r in listing if r["kind"] == "clip"] == [("test-clip", True)]
    text_file = library / "models" / "test-clip" / "text.onnx"
    text_file.write_bytes(text_file.read_bytes()[:-1] + b"\x00")
    proc = run_gallerfs(library, "models", "verify", check=False)
    assert proc.returncode == 1 and "checksum mismatch" in proc.stdout
    # import from a folder of the published file names repairs it
    assert "imported test-clip" in run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest)).stdout
    assert run_gallerfs(library, "models", "verify").returncode == 0
