"""A small library with duplicates for the viewer's review tests, indexed by the real CLI: an exact set
(two copies of one photo), a near set (a JPEG and its WebP re-encode: the JPEG is the only
full-resolution copy) and a unique photo; optionally an exact pair whose second copy is on a drive."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import CORPORA, run_gallerfs

REAL = CORPORA / "neardup" / "real"
ROCKS = REAL / "r10_exact_copies_el_torcal" / "immich__albums__nature__el_torcal_rocks.jpg"
FLOWER_JPG = REAL / "r07_flower_jpg_webp" / "pillow__flower.jpg"
FLOWER_WEBP = REAL / "r07_flower_jpg_webp" / "pillow__flower.webp"
MONGOLIA = REAL / "r11_exact_copy_no_extension" / "lychee__mongolia.jpeg"
UNIQUE = CORPORA / "exif" / "exif-samples" / "jpg" / "Canon_40D.jpg"


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def build_review_library(root: Path, drive: Path | None = None) -> tuple[Path, Path]:
    """(library, photos folder). With ``drive``, its DCIM/ folder is a second source ("usb") holding a copy
    of photos/trip/mongolia.jpeg."""
    photos = root / "photos"
    _copy(ROCKS, photos / "trip" / "rocks.jpg")
    _copy(ROCKS, photos / "backup" / "rocks copy.jpg")
    _copy(FLOWER_JPG, photos / "trip" / "flower.jpg")
    _copy(FLOWER_WEBP, photos / "phone" / "flower.webp")
    _copy(UNIQUE, photos / "trip" / "unique.jpg")
    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    run_gallerfs(library, "add", str(photos), "--name", "photos")
    if drive is not None:
        _copy(MONGOLIA, photos / "trip" / "mongolia.jpeg")
        _copy(MONGOLIA, drive / "DCIM" / "mongolia.jpeg")
        run_gallerfs(library, "add", str(drive / "DCIM"), "--name", "usb")
    run_gallerfs(library, "index")
    return library, photos
