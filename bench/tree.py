"""Generate a large photo tree for benchmarks from the real corpus.

A few hundred distinct JPEGs are made by re-encoding corpus camera photos at a
reduced size with rewritten EXIF dates and GPS; the tree is then filled to the
requested count with hard links (phase 1 and the mount only see paths, sizes
and inodes), 500 files per folder; each count gets its own tree-N folder.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from PIL import Image

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "exif"


def corpus_jpegs() -> list[Path]:
    truth = json.loads((CORPUS / "ground_truth.json").read_text())
    out = []
    for rel, rec in sorted(truth.items()):
        if rec.get("FileType") == "JPEG" and (rec.get("pillow") or {}).get("ok") and not rec.get("flags"):
            out.append(CORPUS / rel)
    return out


def _exif_for(i: int, rng: random.Random) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = rng.choice(["Canon", "NIKON CORPORATION", "Apple", "SONY", "FUJIFILM"])
    exif[0x0110] = f"Model {i % 17}"
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = f"{2010 + i % 15}:{1 + i % 12:02d}:{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}"
    gps = exif.get_ifd(0x8825)
    lat, lon = rng.uniform(-60, 70), rng.uniform(-170, 170)
    gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    gps[2] = (float(int(abs(lat))), float(int(abs(lat) * 60 % 60)), round(abs(lat) * 3600 % 60, 2))
    gps[4] = (float(int(abs(lon))), float(int(abs(lon) * 60 % 60)), round(abs(lon) * 3600 % 60, 2))
    return exif


def make_uniques(folder: Path, count: int, long_side: int = 640, seed: int = 7) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sources = corpus_jpegs()
    made = []
    for i in range(count):
        target = folder / f"u{i:05d}.jpg"
        if not target.exists():
            with Image.open(sources[i % len(sources)]) as im:
                im.draft("RGB", (long_side, long_side))
                im = im.convert("RGB")
                im.thumbnail((long_side, long_side))
                if i >= len(sources):  # vary the pixels so each unique file really is unique
                    im = im.rotate(rng.uniform(-3, 3), expand=False, fillcolor=(i % 256, 0, 0))
                im.save(target, "JPEG", quality=rng.randint(70, 92), exif=_exif_for(i, rng))
        made.append(target)
    return made


def make_tree(root: Path, files: int, uniques: int = 300, per_folder: int = 500) -> Path:
    """root/tree-N with N=`files` photos (hard links to `uniques` distinct ones). Reuses an existing tree."""
    tree = root / f"tree-{files}"
    stamp = root / f".{tree.name}-{uniques}.complete"
    if stamp.exists():
        return tree
    originals = make_uniques(root / "uniques", uniques)
    for i in range(files):
        folder = tree / f"{2010 + (i // per_folder) % 15}" / f"{i // per_folder:04d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"IMG_{i:06d}.jpg"
        if not target.exists():  # a run interrupted half-way is completed, not redone
            os.link(originals[i % len(originals)], target)
    stamp.touch()
    return tree
