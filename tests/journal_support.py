"""A small library with known dates for the journal tests, built with the real CLI.

Corpus JPEGs are copied to a temp dir with their EXIF DateTimeOriginal
rewritten by Pillow, then ``gallerfs add`` and ``gallerfs index`` run on them.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT.parent / "shared" / "corpora" / "exif").resolve()


@dataclass(frozen=True)
class Planted:
    relpath: str  # under the photos folder
    corpus: str  # corpus file it was made from
    taken: dt.datetime | None  # EXIF date written; None: no EXIF date, file mtime used


# Week 2024-W28 is Monday 8 July .. Sunday 14 July 2024.
PLANTED = (
    Planted("trip/IMG_0001.jpg", "exif-samples/jpg/Canon_40D.jpg", dt.datetime(2024, 7, 14, 9, 0, 0)),
    Planted("phone/IMG_0001.jpg", "exif-samples/jpg/Pentax_K10D.jpg", dt.datetime(2024, 7, 14, 10, 30, 0)),
    Planted("trip/beach party (sunset).jpg", "exif-samples/jpg/Kodak_CX7530.jpg", dt.datetime(2024, 7, 14, 19, 5, 0)),
    Planted("trip/monday.jpg", "exif-samples/jpg/exif-org/kodak-dc240.jpg", dt.datetime(2024, 7, 8, 8, 15, 0)),
    Planted("trip/wednesday.jpg", "exif-samples/jpg/Fujifilm_FinePix6900ZOOM.jpg", dt.datetime(2024, 7, 10, 23, 59, 0)),
    Planted("trip/sunday-before.jpg", "exif-samples/jpg/Canon_DIGITAL_IXUS_400.jpg", dt.datetime(2024, 7, 7, 12, 0, 0)),
    Planted("trip/monday-after.jpg", "exif-samples/jpg/long_description.jpg", dt.datetime(2024, 7, 15, 0, 1, 0)),
    Planted("newyear/dec31.jpg", "elodie/with-album.jpg", dt.datetime(2020, 12, 31, 22, 0, 0)),
    Planted("newyear/jan03.jpg", "elodie/with-location.jpg", dt.datetime(2021, 1, 3, 11, 0, 0)),
    Planted("newyear/jan04.jpg", "exif-samples/jpg/WWL_(Polaroid)_ION230.jpg", dt.datetime(2021, 1, 4, 9, 0, 0)),
    Planted("odd/caf\udce9.jpg", "exif-samples/jpg/Pentax_K10D.jpg", dt.datetime(2024, 7, 13, 15, 0, 0)),  # not UTF-8
    Planted("scans/no-date.png", "exif-samples/jpg/Ricoh_Caplio_RR330.jpg", None),
)
NO_DATE_MTIME = dt.datetime(2024, 7, 12, 12, 0, 0)  # local time given to the file without a date


def write_dated_copy(src: Path, dst: Path, taken: dt.datetime | None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        im.load()
        if taken is None:
            im.convert("RGB").save(dst, "PNG")
        else:
            exif = im.getexif()
            stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
            ifd = exif.get_ifd(0x8769)
            ifd[0x9003] = stamp  # DateTimeOriginal
            ifd[0x9004] = stamp  # DateTimeDigitized
            exif[0x0132] = stamp  # DateTime
            im.convert("RGB").save(dst, "JPEG", quality=90, exif=exif.tobytes())
    if taken is None:
        t = NO_DATE_MTIME.timestamp()
    else:
        t = dt.datetime(2025, 3, 1, 12, 0, 0).timestamp()  # file time far from the date taken
    os.utime(dst, (t, t))


def make_photos(folder: Path) -> None:
    for p in PLANTED:
        write_dated_copy(CORPUS / p.corpus, folder / p.relpath, p.taken)


def gallerfs(library: Path, *args: str, check: bool = True, env: dict[str, str] | None = None,
             input: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GALLERFS_LIBRARY", None)
    full_env.pop("GALLERFS_CONFIG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "gallerfs", "--library", str(library), *args],
        cwd=ROOT, capture_output=True, text=True, env=full_env, input=input, timeout=240,
    )  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"gallerfs {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def build_library(tmp: Path) -> tuple[Path, Path]:
    """(library dir, photos dir), indexed."""
    photos = tmp / "photos"
    library = tmp / "library"
    make_photos(photos)
    gallerfs(library, "add", str(photos))
    gallerfs(library, "index")
    return library, photos


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
