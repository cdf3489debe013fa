"""by-place/<country>/<region>/<city>/ in the mount, and the place as extended attributes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.fs.nodes import DirNode, Memo, TextFile, TreeContext
from gallerfs.fs.place_dirs import README, README_TEXT, ByPlaceRoot
from gallerfs.paths import LibraryPaths
from tests.conftest import EXIF_CORPUS, run_gallerfs
from tests.mountutil import Mount

PHOTOS = [
    "exif-samples/jpg/gps/DSCN0021.jpg", "exif-samples/jpg/gps/DSCN0025.jpg",  # NIKON COOLPIX P6000, Arezzo
    "exif-samples/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif",  # north of Madrid
    "elodie/with-location-inv.jpg",  # far at sea: no place
    "exif-samples/jpg/Canon_40D.jpg",  # no GPS
]


def _library(root: Path, names: list[str]) -> Path:
    library, photos = root / "library", root / "photos"
    library.mkdir()
    photos.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    for name in names:
        shutil.copy2(EXIF_CORPUS / name, photos / os.path.basename(name))
    shutil.copy2(EXIF_CORPUS / names[0], photos / "copy.jpg")  # same place, another name
    run_gallerfs(library, "add", str(photos))
    run_gallerfs(library, "index")
    return library


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _library(tmp_path_factory.mktemp("fsplaces"), PHOTOS)


def _ctx(library: Path) -> TreeContext:
    db = Database(library / "library.sqlite3", readonly=True)
    return TreeContext(db, Memo(0), LibraryPaths(library, library / "config.toml"), Settings())


def _walk(ctx: TreeContext, node: DirNode, prefix: str = "") -> list[str]:
    out = []
    for e in node.list(ctx):
        name = prefix + e.name.decode()
        out += _walk(ctx, e.node, name + "/") if isinstance(e.node, DirNode) else [name]
    return out


def test_by_place_tree_without_fuse(placed: Path):
    assert _walk(_ctx(placed), ByPlaceRoot()) == [
        "Italy/Tuscany/Arezzo/DSCN0021.jpg", "Italy/Tuscany/Arezzo/DSCN0025.jpg", "Italy/Tuscany/Arezzo/copy.jpg",
        "Spain/Madrid/Colmenar Viejo/HMD_Nokia_8.3_5G_hdr.heif",
    ]  # fmt: skip


def test_a_library_without_gps_has_an_empty_by_place_with_a_readme(tmp_path: Path):
    library = _library(tmp_path, ["exif-samples/jpg/Canon_40D.jpg"])
    entries = ByPlaceRoot().list(_ctx(library))
    assert [e.name for e in entries] == [README]
    assert isinstance(entries[0].node, TextFile) and entries[0].node.size == len(README_TEXT)
    assert b"gallerfs index" in README_TEXT and b"GPS" in README_TEXT


def test_the_mount_lists_by_place_and_serves_the_place_as_xattrs(placed: Path, tmp_path: Path):
    with Mount(placed, tmp_path / "mnt", "--xattrs") as m:
        assert "by-place" in os.listdir(m.path)
        assert sorted(os.listdir(m.p("by-place"))) == [b"Italy", b"Spain"]
        assert os.listdir(m.p("by-place", "Spain", "Madrid")) == [b"Colmenar Viejo"]
        city = m.p("by-place", "Italy", "Tuscany", "Arezzo")
        assert sorted(os.listdir(city)) == [b"DSCN0021.jpg", b"DSCN0025.jpg", b"copy.jpg"]
        photo = os.path.join(city, b"DSCN0021.jpg")
        with open(photo, "rb") as f, open(EXIF_CORPUS / PHOTOS[0], "rb") as g:
            assert f.read() == g.read()
        assert os.getxattr(photo, "user.gallerfs.place") == b"Arezzo, Tuscany, Italy"
        assert os.getxattr(photo, "user.gallerfs.country") == b"Italy"
        assert os.getxattr(photo, "user.gallerfs.city") == b"Arezzo"
        unplaced = m.p("sources", "photos", "Canon_40D.jpg")
        assert "user.gallerfs.place" not in os.listxattr(unplaced)
        assert "user.gallerfs.gps" not in os.listxattr(unplaced)
        assert os.stat(photo).st_ino == os.stat(m.p("sources", "photos", "DSCN0021.jpg")).st_ino


def test_an_empty_mount_shows_the_readme(tmp_path: Path):
    library = tmp_path / "library"
    library.mkdir()
    run_gallerfs(library, "status")  # creates the library
    with Mount(library, tmp_path / "mnt") as m:
        assert os.listdir(m.p("by-place")) == [b"README.txt"]
        with open(m.p("by-place", "README.txt"), "rb") as f:
            assert f.read() == README_TEXT
