"""Benchmark the faces job on 12-MP photos; prints JSON.

Runs the real job (``indexer.faces.scan_library``: the photo downscaled to about one megapixel, dlib's
HOG detector, 5-point landmarks, 128-D descriptors, results written to the library, then clustering)
over N camera-size JPEGs of real faces (tests/data/faces and the corpus' craft-beer photo, scaled up to
the requested size), twice: from the originals (photos not through phase 2 yet) and from the 1280-px
previews phase 2 leaves (what ``gallerfs index`` does). Baselines from the same run: decoding one such
JPEG at full size, and HOG detection on the full-size picture (what skipping the downscale would cost).
Needs the faces extra (dlib-bin, face-recognition-models).

    python bench/bench_faces.py [--images 8] [--megapixels 12] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.config import Settings  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.indexer import faces as faces_job  # noqa: E402
from gallerfs.indexer.scanner import scan_source  # noqa: E402
from gallerfs.indexer.volumes import identify  # noqa: E402

SOURCES = [ROOT / "tests" / "data" / "faces" / n for n in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")]
CORPUS_PHOTO = ROOT.parent / "shared" / "corpora" / "exif" / "immich" / "albums" / "text" / "craft-beer.jpg"


def camera_photos(folder: Path, n: int, megapixels: float) -> list[Path]:
    """n JPEGs of about the given size, each a real photo with a face scaled to it."""
    from PIL import Image

    originals = [p for p in [*SOURCES, CORPUS_PHOTO] if p.is_file()]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        with Image.open(originals[i % len(originals)]) as im:
            im = im.convert("RGB")
            f = (megapixels * 1e6 / (im.width * im.height)) ** 0.5
            big = im.resize((round(im.width * f), round(im.height * f)), Image.Resampling.BICUBIC)
        path = folder / f"IMG_{i:04d}.jpg"
        big.save(path, quality=90)
        out.append(path)
    return out


def make_previews(db: Database, paths: LibraryPaths, folder: Path) -> None:
    """What phase 2 leaves behind: a 1280-px upright preview per file, its size, and the file marked done."""
    from PIL import Image

    from gallerfs.db import files as files_db
    from gallerfs.db.faces import todo_batch
    from gallerfs.indexer.thumbnails import fit, thumbnail_path, write_jpeg_atomic

    source_id = sources_db.list_sources(db)[0].id
    for task in todo_batch(db, source_id, 0, 1 << 30):
        with Image.open(folder / os.fsdecode(task.relpath)) as im:
            size = im.size
            im.draft("RGB", (1280, 1280))
            write_jpeg_atomic(fit(im.convert("RGB"), 1280), thumbnail_path(paths.thumbnails, task.file_id, "preview"), 85)
        with db.transaction():
            files_db.store_result(db, task.file_id, metadata={"width": size[0], "height": size[1]}, content_hash=None,
                                  partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip


def run_job(folder: Path, tmp: Path, from_previews: bool) -> dict[str, float]:
    root = tmp / ("library-previews" if from_previews else "library")
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    db = Database(paths.db)
    ident = identify(os.fsencode(folder))
    source = sources_db.add_source(
        db, name="bench", path=os.fsencode(folder), mount_point=ident.mount_point, fs_uuid=ident.fs_uuid,
        fs_type=ident.fs_type, device=ident.device, root_inode=ident.root_inode,
    )  # fmt: skip
    scan_source(db, source)
    if from_previews:
        make_previews(db, paths, folder)
    model = faces_job.shared_model()  # loaded outside the timing
    start = time.perf_counter()
    report = faces_job.scan_library(db, paths, Settings(), model=model)
    elapsed = time.perf_counter() - start
    db.close()
    return {"per_image_s": round(elapsed / max(1, report.scanned), 4), "images": report.scanned,
            "faces": report.faces, "persons": (report.clustering or {}).get("new_persons", 0)}  # fmt: skip


def baselines(photo: Path) -> dict[str, float]:
    import numpy as np
    from PIL import Image

    start = time.perf_counter()
    with Image.open(photo) as im:
        full = np.asarray(im.convert("RGB"))
    decode = time.perf_counter() - start
    model = faces_job.shared_model()
    start = time.perf_counter()
    model._detector.run(full, 0, faces_job.MIN_SCORE)
    detect_full = time.perf_counter() - start
    rgb, _ = faces_job.load_for_detection(photo, None, 10**10)
    start = time.perf_counter()
    model._detector.run(rgb, 0, faces_job.MIN_SCORE)
    detect_small = time.perf_counter() - start
    return {"full_decode_s": round(decode, 4), "hog_full_resolution_s": round(detect_full, 4),
            "hog_downscaled_s": round(detect_small, 4), "downscaled_pixels": int(rgb.shape[0] * rgb.shape[1]),
            "hog_speedup_from_downscaling": round(detect_full / max(detect_small, 1e-9), 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not faces_job.available():
        result: dict[str, object] = {"skipped": faces_job.MISSING_MESSAGE}
    else:
        with tempfile.TemporaryDirectory(prefix="gallerfs-bench-faces-") as tmp_name:
            tmp = Path(tmp_name)
            photos = camera_photos(tmp / "photos", args.images, args.megapixels)
            result = {
                "megapixels": args.megapixels,
                "from_originals": run_job(tmp / "photos", tmp, from_previews=False),
                "from_previews": run_job(tmp / "photos", tmp, from_previews=True),
                "baseline": baselines(photos[0]),
            }
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
