"""Phase-2 per-file speed: gallerfs's single reduced decode against a naive loop.

Prints one JSON object. The subject is a 12-MP JPEG: by default a baseline
4000x3000 camera-like JPEG generated from a corpus photo (resized, with film
grain so it compresses like a real photo), plus any real >= 12-MP corpus
JPEGs that exist (--corpus). Usage:

    .venv/bin/python bench/bench_phase2.py [--rounds N] [--jpeg PATH]

naive   = MEASURED.md's naive baseline per output: Image.open, exif_transpose,
          convert("RGB"), thumbnail, save -- once per thumbnail size and once more
          for the perceptual hash (headline "ratio").
naive_thumbnail_draft = Image.open(path).thumbnail(...) first, which lets Pillow
          draft() by itself, then orientation; reported as ratio_vs_thumbnail_draft.
gallerfs = indexer.process_file.process_file() minus the content hash (both would
          pay it equally): metadata, ONE draft decode, corrupt-data check, both
          thumbnails, phash + dhash.
Also reported: EXIF read time, Pillow getexif() vs exifread(details=False).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.indexer import process_file as pf  # noqa: E402
from gallerfs.indexer.hashing import perceptual_hashes  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "exif"
SOURCE = CORPUS / "lychee" / "aarhus.jpg"  # 4032x3024 Nexus 5X photo with EXIF
from gallerfs.config import Settings  # noqa: E402

GRID, PREVIEW, QUALITY = Settings().thumbnail_grid_px, Settings().thumbnail_preview_px, Settings().thumbnail_quality


def make_12mp(path: Path) -> Path:
    with Image.open(SOURCE) as src:
        exif = src.info.get("exif", b"")
        big = src.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    rng = np.random.default_rng(7)
    arr = np.asarray(big, dtype=np.int16) + rng.integers(-6, 7, size=(3000, 4000, 1), dtype=np.int16)
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=92, exif=exif)
    return path


def naive(path: Path, out: Path) -> None:
    """MEASURED.md's naive baseline (open + convert + thumbnail), once per output."""
    for name, px in (("preview", PREVIEW), ("grid", GRID)):
        im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        im.thumbnail((px, px))
        im.save(out / f"naive-{name}.jpg", "JPEG", quality=QUALITY)
    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    im.thumbnail((64, 64))
    perceptual_hashes(im)


def naive_draft(path: Path, out: Path) -> None:
    """A better naive loop: Image.open(path).thumbnail() first, so Pillow's own
    draft() applies (thumbnail asks for 2x the size), orientation after."""
    for name, px in (("preview", PREVIEW), ("grid", GRID)):
        im = Image.open(path)
        im.thumbnail((px, px))
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.save(out / f"naive-{name}.jpg", "JPEG", quality=QUALITY)
    im = Image.open(path)
    im.thumbnail((64, 64))
    perceptual_hashes(ImageOps.exif_transpose(im))


def gallerfs(path: Path, out: Path) -> None:
    run = pf._Run()
    meta, upright = pf._read(os.fsencode(path), "image", PREVIEW, 100_000_000, run)
    images = pf.make_sizes(upright, {"preview": PREVIEW, "grid": GRID})
    pf.write_thumbnails(images, 1, out, QUALITY)
    perceptual_hashes(images["grid"])
    assert meta is not None and not run.errors, run.errors


def timed(fn, *args, rounds: int) -> float:
    fn(*args)  # warm the page cache and imports
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(*args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def interleaved(a, b, *args, rounds: int) -> tuple[float, float]:
    """Median times of a and b run alternately, so machine load hits both alike."""
    a(*args)
    b(*args)
    ta, tb = [], []
    for _ in range(rounds):
        for fn, samples in ((a, ta), (b, tb)):
            start = time.perf_counter()
            fn(*args)
            samples.append(time.perf_counter() - start)
    return statistics.median(ta), statistics.median(tb)


def exif_times(path: Path, rounds: int) -> dict[str, float]:
    import exifread

    def pillow() -> None:
        with Image.open(path) as im:
            exif = im.getexif()
            exif.get_ifd(0x8769)
            exif.get_ifd(0x8825)

    def exifread_() -> None:
        with open(path, "rb") as f:
            exifread.process_file(f, details=False)

    return {"pillow_getexif_ms": timed(pillow, rounds=rounds * 5) * 1000,
            "exifread_ms": timed(exifread_, rounds=rounds * 5) * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--jpeg", type=Path, help="benchmark this JPEG instead of a generated one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subjects = [args.jpeg] if args.jpeg else [make_12mp(out / "generated-12mp.jpg")]
        results = []
        for path in subjects:
            with Image.open(path) as im:
                size = im.size
            t_naive, t_gallerfs = interleaved(naive, gallerfs, path, out, rounds=args.rounds)
            t_draft, t_gallerfs2 = interleaved(naive_draft, gallerfs, path, out, rounds=args.rounds)
            results.append({
                "file": str(path.name), "size": list(size), "megapixels": round(size[0] * size[1] / 1e6, 1),
                "naive_ms": round(t_naive * 1000, 1), "gallerfs_ms": round(t_gallerfs * 1000, 1),
                "ratio": round(t_naive / t_gallerfs, 2),
                "naive_thumbnail_draft_ms": round(t_draft * 1000, 1),
                "ratio_vs_thumbnail_draft": round(t_draft / t_gallerfs2, 2),
            })
        report = {"grid_px": GRID, "preview_px": PREVIEW, "rounds": args.rounds, "results": results,
                  "ratio": results[0]["ratio"]}
        report.update({k: round(v, 3) for k, v in exif_times(subjects[0], args.rounds).items()})
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
