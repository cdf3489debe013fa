"""Benchmark the embedding pipeline; prints JSON.

Runs the real embedding job (``indexer.embed.embed_library``: decode with
Pillow draft on a thread pool, preprocess, batched image tower, vectors
written to the library) over N generated camera-size JPEGs (and again over
the 1280-px previews phase 2 leaves, which is what ``gallerfs index`` embeds), and compares its
images/s with the bare image tower on pre-made tensors (the ceiling) and with
decoding + preprocessing alone on all cores (the decode limit). The model is
a random-weight export of the real ViT-B/32 architecture (speed does not
depend on the weights; needs the ``bench`` extra for torch) unless
``--model-dir`` names a folder with image.onnx/text.onnx.

    python bench/bench_embed.py [--images 64] [--megapixels 12] [--batch 16] [--device cpu|cuda] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.config import Settings  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.indexer.clip.model import ImageEncoder, default_threads  # noqa: E402
from gallerfs.indexer.clip.preprocess import preprocess_file  # noqa: E402
from gallerfs.indexer.embed import decode_workers, embed_library  # noqa: E402
from gallerfs.indexer.scanner import scan_source  # noqa: E402
from gallerfs.indexer.volumes import identify  # noqa: E402
from gallerfs.models.manifest import FileSpec, ModelSpec  # noqa: E402
from gallerfs.models.store import InstalledModel  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gallerfs-bench"


def camera_jpegs(folder: Path, n: int, megapixels: float, distinct: int = 8) -> list[Path]:
    """n JPEGs of about the given size with camera-like detail (a few distinct, the rest copies)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    w = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = w * 3 // 4
    rng = np.random.default_rng(0)
    made = []
    for i in range(min(n, distinct)):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1) / w * 255) % 256, (yy * 255 / h), ((xx + yy) * 3) % 256], -1)
        arr = np.clip(base + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
        path = folder / f"IMG_{i:04}.jpg"
        Image.fromarray(arr).save(path, quality=90)
        made.append(path)
    for i in range(len(made), n):
        path = folder / f"IMG_{i:04}.jpg"
        shutil.copyfile(made[i % len(made)], path)
        made.append(path)
    return made


def bare_model(encoder: ImageEncoder, n: int, batch: int) -> float:
    tensors = np.random.default_rng(1).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    encoder.encode(tensors[:1])  # warm-up
    start = time.perf_counter()
    done = 0
    while done < n:
        encoder.encode(tensors[: min(batch, n - done)])
        done += min(batch, n - done)
    return n / (time.perf_counter() - start)


def decode_only(paths: list[Path]) -> float:
    """Decode + preprocess on the job's thread pool (what the pipeline can get from decoding)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=decode_workers()) as pool:
        list(pool.map(preprocess_file, paths))
    return len(paths) / (time.perf_counter() - start)


def decode_processes(paths: list[Path]) -> float:
    """Decode + preprocess with one process per core: the decode limit of the machine."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=default_threads()) as pool:
        list(pool.map(preprocess_file, paths[: default_threads()]))  # start the workers
        start = time.perf_counter()
        list(pool.map(preprocess_file, paths, chunksize=4))
    return len(paths) / (time.perf_counter() - start)


def torch_cuda_tower(batch: int = 1024, rounds: int = 10) -> float:
    """The same image-tower architecture in torch fp16 on the GPU: the ceiling a GPU path approaches."""
    from bench.clip_random import _build

    torch, vision, _ = _build()
    model = vision.half().cuda()
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=torch.float16)
    with torch.no_grad():
        for _ in range(3):
            model(x)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(rounds):
            model(x)
        torch.cuda.synchronize()
    return batch * rounds / (time.perf_counter() - start)


def _make_previews(db: Database, paths: LibraryPaths, folder: Path) -> None:
    """What phase 2 leaves behind: a 1280-px upright preview per file, and the file marked done."""
    from PIL import Image

    from gallerfs.db import files as files_db
    from gallerfs.indexer.thumbnails import fit, thumbnail_path, write_jpeg_atomic

    from gallerfs.db.embeddings import todo_batch

    for task in todo_batch(db, 0, 1 << 30):
        file_id = task.file_id
        with Image.open(folder / os.fsdecode(task.relpath)) as im:
            im.draft("RGB", (1280, 1280))
            write_jpeg_atomic(fit(im.convert("RGB"), 1280), thumbnail_path(paths.thumbnails, file_id, "preview"), 85)
        with db.transaction():
            files_db.store_result(db, file_id, metadata=None, content_hash=None, partial_hash=None, phash=None,
                                  dhash=None, error=None)  # fmt: skip


def pipeline(folder: Path, model_dir: Path, batch: int, device: str, tmp: Path,
             from_previews: bool = False) -> tuple[float, int]:  # fmt: skip
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
        _make_previews(db, paths, folder)
    fake = "0" * 64
    spec = ModelSpec("bench-vitb32", "random weights", 512, 224, 77, "", "", (
        FileSpec("image", "image.onnx", "", fake, None), FileSpec("text", "text.onnx", "", fake, None)))  # fmt: skip
    model = InstalledModel(spec, model_dir)
    ImageEncoder(model.image_path, device).encode(np.zeros((1, 3, 224, 224), np.float32))  # load outside the timing
    start = time.perf_counter()
    report = embed_library(db, paths, Settings(embed_batch_size=batch), model=model, device=device)
    elapsed = time.perf_counter() - start
    db.close()
    return report.embedded / elapsed, report.embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--model-dir", type=Path, help="folder with image.onnx and text.onnx (default: random ViT-B/32)")
    parser.add_argument("--torch-cuda", action="store_true",
                        help="also time the tower in torch fp16 on the GPU and decoding with one process per core")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    model_dir = args.model_dir
    if model_dir is None:
        from bench.clip_random import export

        model_dir = export(CACHE / "vitb32-random")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        images = camera_jpegs(tmp / "photos", args.images, args.megapixels)
        encoder = ImageEncoder(model_dir / "image.onnx", args.device)
        bare = bare_model(encoder, args.images, args.batch)
        decode = decode_only(images)
        rate, embedded = pipeline(tmp / "photos", model_dir, args.batch, args.device, tmp)
        extra = {}
        rate_previews, _ = pipeline(tmp / "photos", model_dir, args.batch, args.device, tmp, from_previews=True)
        extra["pipeline_from_previews_img_per_s"] = round(rate_previews, 2)
        extra["pipeline_from_previews_vs_bare_model"] = round(rate_previews / bare, 3)
        if args.torch_cuda:
            extra["decode_limit_processes_img_per_s"] = round(decode_processes(images), 1)
            extra["torch_cuda_fp16_tower_img_per_s"] = round(torch_cuda_tower(), 1)
            extra["gpu_tower_vs_decode_limit"] = round(
                extra["torch_cuda_fp16_tower_img_per_s"] / extra["decode_limit_processes_img_per_s"], 1)
    result = {
        "benchmark": "embed",
        "model": "CLIP ViT-B/32 architecture (random weights)" if args.model_dir is None else str(args.model_dir),
        "device": args.device,
        "cpus": default_threads(),
        "decode_threads": decode_workers(),
        "images": embedded,
        "megapixels": args.megapixels,
        "batch": args.batch,
        "bare_model_img_per_s": round(bare, 2),
        "decode_preprocess_img_per_s": round(decode, 2),
        "pipeline_img_per_s": round(rate, 2),
        "pipeline_vs_bare_model": round(rate / bare, 3),
        "pipeline_vs_decode_limit": round(rate / decode, 3),
        **extra,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
