"""Benchmark the OCR job and text search; prints JSON.

``per_image``: the OCR job's work for one 12-MP photo (decoded and downscaled to 1280 px as the job
does for an original, then RapidOCR's detection, orientation and recognition), for a photo of a
printed page (scikit-image's ``data.page()`` upscaled) and a photo without text (``data.astronaut()``
upscaled), as the median of ``--rounds``; ``decode_only_s`` is the decoding and downscaling alone in
the same run, and ``ratio_to_decode`` how many times that the whole step takes.

``text_search``: a library of N files, 30% with a few lines of text (words drawn from a 20,000-word
vocabulary, as receipts, signs and screenshots give), is searched with ``gallerfs.search.text_search``
(every word, prefix and phrase handling, BM25) and with the fused ``gallerfs.search.search`` (OCR
signal only: no CLIP model), for distinct queries: p50/p99 in ms, and a brute-force baseline (every
text held in memory, scanned in Python for the words) with the ratio to it.

    python bench/bench_ocr.py [--rounds 3] [--files 100000] [--queries 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.config import Settings  # noqa: E402
from gallerfs.db import files as files_db  # noqa: E402
from gallerfs.db import ocr as ocr_db  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.search import search_query, text_search  # noqa: E402


def twelve_mp(folder: Path) -> dict[str, Path]:
    """Two ~12-MP JPEGs upscaled from real photos: a printed page and a portrait without text."""
    from PIL import Image
    from skimage import data

    out = {}
    page = Image.fromarray(data.page()).convert("RGB").resize((4900, 2450), Image.Resampling.LANCZOS)
    out["text"] = folder / "page-12mp.jpg"
    page.save(out["text"], quality=92)
    astronaut = Image.fromarray(data.astronaut()).resize((3464, 3464), Image.Resampling.LANCZOS)
    out["no_text"] = folder / "astronaut-12mp.jpg"
    astronaut.save(out["no_text"], quality=92)
    return out


def per_image(rounds: int, tmp: Path) -> dict:
    from gallerfs.indexer.ocr_engine import Reader, load

    images = twelve_mp(tmp)
    t0 = time.perf_counter()
    reader = Reader()
    reader.read(load(images["no_text"], 250_000_000))  # the first run initialises onnxruntime's kernels
    load_s = time.perf_counter() - t0
    out: dict = {"engine_load_s": round(load_s, 3)}
    for name, path in images.items():
        decode, total, lines = [], [], 0
        for _ in range(rounds):
            t = time.perf_counter()
            image = load(path, 250_000_000)
            decode.append(time.perf_counter() - t)
            found = reader.read(image)
            total.append(time.perf_counter() - t)
            lines = len(found)
        d, s = statistics.median(decode), statistics.median(total)
        out[name] = {"megapixels": round(_pixels(path) / 1e6, 1), "seconds": round(s, 3),
                     "decode_only_s": round(d, 4), "ratio_to_decode": round(s / d, 1), "lines": lines}  # fmt: skip
    return out


def _pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0] * im.size[1]


def build(root: Path, n: int, rng: random.Random) -> tuple[LibraryPaths, list[str], dict[int, str]]:
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    words = vocabulary(rng)
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="bench", path=b"/nonexistent-bench", mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=0, root_inode=0)  # fmt: skip
        chunk = 20_000
        for start in range(0, n, chunk):
            entries = [files_db.ScannedFile(f"d{i // 1000:04}/IMG_{i:07}.jpg".encode(), "image", 1_000_000 + i,
                                            10**18 + i, 10**18 + i, 0, i) for i in range(start, min(n, start + chunk))]  # fmt: skip
            with db.transaction():
                files_db.insert_new(db, source.id, entries)
        ids = [r[0] for r in db.tuples("SELECT id FROM files ORDER BY id")]
        with db.transaction():
            for file_id in ids:
                files_db.store_result(db, file_id, metadata={"sort_time": float(file_id)}, content_hash=None,
                                      partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
        texts = add_text(db, rng, words)
    return paths, words, texts


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Random lower-case words of 3-10 letters: the text printed in a generated library's photos."""
    return ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))) for _ in range(size)]


def add_text(db: Database, rng: random.Random, words: list[str], share: float = 0.3,
             chunk: int = 20_000) -> dict[int, str]:  # fmt: skip
    """OCR results for every file still to read: 1-6 lines of words for about *share* of them, none for the
    rest, stored through gallerfs.db.ocr as the OCR job stores them. Returns the texts by file id."""
    texts: dict[int, str] = {}
    after = 0
    while batch := ocr_db.todo_batch(db, after, chunk):
        after = batch[-1].file_id
        done = []
        for task in batch:
            lines = []
            if rng.random() < share:
                for _ in range(rng.randint(1, 6)):
                    line = " ".join(rng.choice(words) for _ in range(rng.randint(2, 8)))
                    lines.append(ocr_db.OcrLine(line, 0.95, ((0, 0), (1, 0), (1, 1), (0, 1))))
                texts[task.file_id] = "\n".join(line.text for line in lines)
            done.append((task, lines))
        with db.transaction():
            ocr_db.store(db, done, [], "bench")
    return texts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def text_search_latency(n: int, queries: int, tmp: Path) -> dict:
    rng = random.Random(7)
    t0 = time.perf_counter()
    paths, vocabulary, texts = build(tmp / f"lib{n}", n, rng)
    build_s = time.perf_counter() - t0
    docs = list(texts.items())
    asked = []
    for _ in range(queries):  # two words from one photo's text, the second as a prefix
        words = rng.choice(docs)[1].split()
        asked.append(f"{rng.choice(words)} {rng.choice(words)[:4]}")
    settings = Settings()
    timings: dict[str, list[float]] = {"text_search": [], "fused_search_ocr_only": [], "brute_force_python": []}
    found = 0
    with Database(paths.db, readonly=True) as db:
        for query in asked:
            t = time.perf_counter()
            hits = text_search(db, query, 50)
            timings["text_search"].append(time.perf_counter() - t)
            found += bool(hits)
            t = time.perf_counter()
            search_query(db, paths, settings, query, 50)
            timings["fused_search_ocr_only"].append(time.perf_counter() - t)
            whole, prefix = query.split()
            t = time.perf_counter()
            [i for i, text in docs if whole in text.split() and any(w.startswith(prefix) for w in text.split())]
            timings["brute_force_python"].append(time.perf_counter() - t)
    out: dict = {"files": n, "with_text": len(texts), "build_s": round(build_s, 1), "queries": queries,
                 "queries_with_hits": found}  # fmt: skip
    base = statistics.median(timings["brute_force_python"])
    for name, values in timings.items():
        p50 = statistics.median(values)
        out[name] = {"p50_ms": round(p50 * 1000, 2), "p99_ms": round(percentile(values, 0.99) * 1000, 2)}
        if name != "brute_force_python":
            out[name]["ratio_to_brute_force"] = round(p50 / base, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    from gallerfs.models import extras

    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="gallerfs-bench-ocr-") as tmp:
        if extras.missing("ocr"):
            result["per_image"] = {"skipped": extras.notice("ocr", "per-image OCR timing")}
        else:
            result["per_image"] = per_image(args.rounds, Path(tmp))
        result["text_search"] = text_search_latency(args.files, args.queries, Path(tmp))
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
