"""A library of generated geotagged files for the map's tests and benchmark, written through the library's
own write functions (no indexer run): file i+1 is at ``points[i]`` (latitude, longitude), or has no
position where that is None."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.paths import LibraryPaths

BATCH = 20_000
START_S = 1_400_000_000


def build_gps_library(root: Path, points: Sequence[tuple[float, float] | None], thumbs: int = 0,
                      config: str = "") -> Path:  # fmt: skip
    """The library's root folder; the first ``thumbs`` files get grid thumbnails."""
    paths = LibraryPaths(root=root / "library", config_file=root / "library" / "config.toml")
    paths.ensure()
    if config:
        paths.config_file.write_text(config)
    photos = root / "photos"
    photos.mkdir(exist_ok=True)
    n = len(points)
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="geo", path=os.fsencode(photos), mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=0, root_inode=0)  # fmt: skip
        for start in range(0, n, BATCH):
            ids = range(start, min(n, start + BATCH))
            entries = [files_db.ScannedFile(f"d{i // 1000:04}/GEO_{i:07}.jpg".encode(), "image", 100_000 + i,
                                            (START_S + i) * 10**9, (START_S + i) * 10**9, 0, i) for i in ids]  # fmt: skip
            with db.transaction():
                files_db.insert_new(db, source.id, entries)
                for i in ids:
                    point = points[i]
                    files_db.store_result(db, i + 1, metadata={
                        "sort_time": float(START_S + i), "latitude": point[0] if point else None,
                        "longitude": point[1] if point else None,
                    }, content_hash=f"{i + 1:064x}", partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
    if thumbs:
        from PIL import Image

        from gallerfs.indexer.thumbnails import write_thumbnails

        for fid in range(1, min(thumbs, n) + 1):
            colour = ((fid * 37) % 256, (fid * 91) % 256, (fid * 53) % 256)
            write_thumbnails({"grid": Image.new("RGB", (64, 64), colour)}, fid, paths.thumbnails, 80)
    return paths.root
