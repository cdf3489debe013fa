"""Thumbnail files: where they live and how they are written.

Layout: <thumb_root>/<size name>/<file_id // 1000, 3+ digits>/<file_id>.jpg,
e.g. thumbnails/grid/012/12345.jpg, so no folder holds more than 1,000 files.
Files are written to a temporary name in the same folder and renamed into
place, so a reader never sees half a JPEG and a crash leaves no partial file
under the final name. They are a cache (rebuilt from originals), so no fsync.
"""

from __future__ import annotations

import logging
import os
import tempfile
from itertools import groupby
from pathlib import Path
from typing import Iterable

from PIL import Image

log = logging.getLogger(__name__)

SIZE_NAMES = ("grid", "preview")


def thumbnail_path(thumb_root: str | Path, file_id: int, size_name: str) -> Path:
    """<root>/<size_name>/<file_id // 1000 as 3+ digits>/<file_id>.jpg"""
    return Path(thumb_root) / size_name / f"{file_id // 1000:03d}" / f"{file_id}.jpg"


def missing_thumbnails(thumb_root: str | Path, file_ids: Iterable[int]) -> list[int]:
    """The ids among file_ids (ascending) that have no grid thumbnail.

    One directory listing per 1,000 ids instead of a stat per file, so it is cheap enough to run on every
    index (~100 listings for 100k files). Only the grid size is looked at: it is written last, after the
    preview, so a grid thumbnail implies its preview was written too."""
    missing: list[int] = []
    for shard, ids in groupby(file_ids, key=lambda i: i // 1000):
        try:
            present = set(os.listdir(Path(thumb_root) / "grid" / f"{shard:03d}"))
        except OSError:
            present = set()
        missing.extend(i for i in ids if f"{i}.jpg" not in present)
    return missing


def fit(im: Image.Image, max_px: int) -> Image.Image:
    """An image no larger than max_px on its longer side (never enlarged; may be `im`)."""
    if max(im.size) <= max_px:
        return im
    out = im.copy()
    out.thumbnail((max_px, max_px), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return out


def write_jpeg_atomic(im: Image.Image, path: Path, quality: int) -> None:
    """Save as JPEG under a temporary name in the target folder, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            im.save(f, "JPEG", quality=quality, optimize=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def make_sizes(upright: Image.Image, sizes: dict[str, int]) -> dict[str, Image.Image]:
    """One image per size name, largest first; each smaller one is derived from the
    previous (cheaper than resizing the decode every time)."""
    out: dict[str, Image.Image] = {}
    current = upright
    for name, max_px in sorted(sizes.items(), key=lambda item: -item[1]):
        current = fit(current, max_px)
        out[name] = current
    return out


def write_thumbnails(images: dict[str, Image.Image], file_id: int, thumb_root: str | Path,
                     quality: int) -> tuple[str, ...]:
    """Write each sized image atomically; returns the size names written."""
    written = []
    for name, im in images.items():
        write_jpeg_atomic(im, thumbnail_path(thumb_root, file_id, name), quality)
        written.append(name)
    return tuple(sorted(written, key=lambda n: SIZE_NAMES.index(n) if n in SIZE_NAMES else len(SIZE_NAMES)))
