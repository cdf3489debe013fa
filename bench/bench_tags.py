"""Benchmark tags and text embeddings; prints JSON.

Tag time per image on a 12-MP photo (a real photo, scikit-image's ``chelsea``, upscaled to 4000x3000
and saved as a camera-quality JPEG): decoding it with Pillow's draft plus preprocessing plus
EfficientNet-Lite0 on onnxruntime, against the same from a 1280-px preview (what the tags job reads)
and against inference alone on a ready tensor (the ceiling), all in this run. Text: the latency of
embedding one query with all-MiniLM-L6-v2 (distinct queries, so no cache hit), and of matching it
against every ImageNet tag name (1,000 and parents). The models are built once into the cache folder
from the installed packages (the ``tags`` extra).

    python bench/bench_tags.py [--rounds 20] [--queries 50] [--out FILE]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.models import packaged  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gallerfs-bench" / "packaged"
QUERIES = ["kitty", "a cup of coffee", "lighthouse by the sea", "my dog", "red sports car", "mountains in snow",
           "birthday cake", "boats in a harbour", "a bowl of fruit", "flowers in the garden"]  # fmt: skip


def _models() -> LibraryPaths:
    paths = LibraryPaths(root=CACHE, config_file=CACHE / "config.toml")
    for name in packaged.NAMES:
        if packaged.installed(paths, name) is None:
            packaged.install(paths, name)
    return paths


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2)}  # fmt: skip


def bench_tags(paths: LibraryPaths, rounds: int, folder: Path) -> dict[str, object]:
    from PIL import Image
    from skimage import data

    from gallerfs.indexer.tagger import Tagger, preprocess_file

    tagger = Tagger(packaged.installed(paths, "tags"))  # type: ignore[arg-type]
    big = folder / "12mp.jpg"
    Image.fromarray(data.chelsea()).resize((4000, 3000), Image.Resampling.BICUBIC).save(big, quality=92)
    preview = folder / "preview.jpg"
    with Image.open(big) as im:
        im.thumbnail((1280, 1280))
        im.save(preview, quality=85)
    tensor = preprocess_file(big)
    tagger.tag(tensor[None])  # warm up

    def timed(fn) -> list[float]:
        out = []
        for _ in range(rounds):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    infer = timed(lambda: tagger.tag(tensor[None]))
    full = timed(lambda: tagger.tag(preprocess_file(big)[None]))
    from_preview = timed(lambda: tagger.tag(preprocess_file(preview)[None]))
    batch = np.stack([tensor] * 16)
    t = time.perf_counter()
    tagger.tag(batch)
    batched = (time.perf_counter() - t) / 16
    return {
        "tags_12mp_original": _ms(full),
        "tags_from_preview": _ms(from_preview),
        "inference_only": _ms(infer),
        "inference_batch16_per_image_ms": round(batched * 1000, 2),
        "original_vs_inference": round(statistics.median(full) / statistics.median(infer), 2),
        "preview_vs_inference": round(statistics.median(from_preview) / statistics.median(infer), 2),
        "top_tags": list(tagger.tag(tensor[None])[0])[:5],
    }


def bench_text(paths: LibraryPaths, queries: int) -> dict[str, object]:
    from gallerfs.models import tag_labels
    from gallerfs.search.textembed import TextEmbedder

    model = packaged.installed(paths, "text")
    embedder = TextEmbedder(model)  # type: ignore[arg-type]
    names = sorted({e["tag"] for e in tag_labels.build()} | set(tag_labels.PARENTS))
    t = time.perf_counter()
    matrix = embedder.encode(names)
    names_s = time.perf_counter() - t
    texts = [f"{QUERIES[i % len(QUERIES)]} {i}" for i in range(queries)]
    embedder.encode_one("warm up")
    encode, match = [], []
    for q in texts:
        t = time.perf_counter()
        v = embedder.encode_one(q)
        encode.append(time.perf_counter() - t)
        t = time.perf_counter()
        sims = matrix @ v
        np.flatnonzero(sims >= max(0.55, float(sims.max()) - 0.15))
        match.append(time.perf_counter() - t)
    return {"query_embedding": _ms(encode), "match_against_tag_names": _ms(match), "tag_names": len(names),
            "embed_all_tag_names_s": round(names_s, 2)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t = time.perf_counter()
    paths = _models()
    build_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        result = {"models_ready_s": round(build_s, 2), "tags": bench_tags(paths, args.rounds, Path(tmp)),
                  "text": bench_text(paths, args.queries)}  # fmt: skip
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
