"""The vendored JavaScript (viewer/static/vendor, refreshed by scripts/vendor-js): every file is the one its
manifest records, and nothing the viewer ships or renders loads an asset from another site."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.mountutil import build_library
from tests.viewer_support import HOST, iter_links, make_app

STATIC = PROJECT / "viewer" / "static"
VENDOR = STATIC / "vendor"
# An http(s) URL of something a browser would load: a script, style, image, font, data or tile template.
ASSET_URL = re.compile(
    r"https?://[^\s\"'`)<>]*?(?:\.(?:js|mjs|css|png|jpe?g|gif|webp|svg|woff2?|ttf|otf|json|pbf|mvt|pmtiles)\b|\{z\})",
    re.IGNORECASE,
)
CSS_REMOTE = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"]?)\s*(?:https?:)?//", re.IGNORECASE)


def _manifest() -> list[dict[str, str]]:
    return json.loads((VENDOR / "MANIFEST.json").read_text())["files"]


def test_every_vendored_file_matches_its_manifest_entry() -> None:
    entries = _manifest()
    assert entries
    for e in entries:
        assert {"path", "package", "version", "license", "sha256", "tarball", "integrity"} <= set(e), e
        assert e["tarball"].startswith("https://registry.npmjs.org/"), e
        assert e["license"], e
        data = (VENDOR / e["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"], f"{e['path']} differs from MANIFEST.json"
    on_disk = {str(p.relative_to(VENDOR)) for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk - {"MANIFEST.json", "PACKAGES.json"} == {e["path"] for e in entries}


def test_the_manifest_lists_exactly_what_packages_json_asks_for() -> None:
    wanted = {k: v for k, v in json.loads((VENDOR / "PACKAGES.json").read_text()).items() if not k.startswith("_")}
    expected = {(name, target) for name, spec in wanted.items() for target in spec["files"].values()}
    assert {(e["package"], e["path"]) for e in _manifest()} == expected
    for e in _manifest():
        assert e["version"] == wanted[e["package"]]["version"]


# A URL opening a string (or an attribute value inside one): what a script could load or link to. Licence
# headers name their projects' sites in comments, which no code reads.
URL_IN_CODE = re.compile(r"""["'`=(]\s*https?://""")


@pytest.mark.parametrize("path", sorted(p for p in VENDOR.rglob("*") if p.suffix in (".js", ".css", ".json")
                                         and p.name not in ("MANIFEST.json", "PACKAGES.json")),  # where files came from
                         ids=lambda p: str(p.relative_to(VENDOR)))  # fmt: skip
def test_no_vendored_code_names_a_network_url(path: Path) -> None:
    assert not URL_IN_CODE.findall(path.read_text(encoding="utf-8", errors="replace")), path


def test_patched_files_record_what_was_changed_and_the_upstream_checksum() -> None:
    patched = {e["path"]: e for e in _manifest() if "patches" in e}
    assert set(patched) == {"leaflet/leaflet.js", "protomaps-leaflet/protomaps-leaflet.js"}
    for e in patched.values():
        assert len(e["upstream_sha256"]) == 64 and e["upstream_sha256"] != e["sha256"] and e["patches"], e


def test_vendor_script_check_mode_agrees() -> None:
    proc = subprocess.run([sys.executable, str(PROJECT / "scripts" / "vendor-js"), "--check"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_detectors_catch_remote_assets() -> None:
    assert ASSET_URL.search('s.src="https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"')
    assert ASSET_URL.search("L.tileLayer('https://tile.openstreetmap.org/{z}/{x}/{y}.png')")
    assert not ASSET_URL.search('<a href="https://leafletjs.com">Leaflet</a>')
    assert CSS_REMOTE.search("background: url(https://example.com/x.png)")
    assert CSS_REMOTE.search("@import '//fonts.example.com/a.css';")
    assert not CSS_REMOTE.search("background-image: url(images/layers.png)")


@pytest.mark.parametrize("path", sorted(p for p in STATIC.rglob("*") if p.suffix in (".js", ".css", ".json", ".html")),
                         ids=lambda p: str(p.relative_to(STATIC)))  # fmt: skip
def test_no_static_file_loads_a_remote_asset(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    assert not ASSET_URL.findall(text)
    if path.suffix == ".css":
        assert not CSS_REMOTE.search(text)


def test_rendered_pages_reference_only_local_assets(tmp_path: Path) -> None:
    library, _ = build_library(tmp_path)
    app = make_app(library)
    client = app.test_client()
    for url in ("/", "/search", "/albums", "/sources", "/jobs", "/map"):
        resp = client.get(url, headers=HOST)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        for link in iter_links(html):
            assert not re.match(r"^(?:https?:)?//", link), f"{url} links {link}"
        assert not ASSET_URL.findall(html), url
