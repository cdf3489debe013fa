"""Benchmark search latency; prints JSON.

Builds a library of N files with random unit vectors (512-d, in clusters, as
photo libraries have) and metadata (dates over ten years, five cameras, 30%
with GPS, an album), then times ``gallerfs.search.search_files`` — text
encoding + KNN + filters + ranking — for distinct queries, unfiltered and with
each filter, reporting p50/p99. The KNN step alone (sqlite-vec ``vec0``) is
compared with a numpy brute-force baseline over the same vectors held in
memory. The text tower is a random-weight export of the real ViT-B/32
architecture (needs the ``bench`` extra for torch) unless ``--model-dir``
names a folder with image.onnx/text.onnx.

``engine_latency`` times the same searches from a precomputed query vector
(filters + KNN + ranking, no text tower), with each filter's
``ratio_to_unfiltered`` from the same run: as a long-lived process (mount,
viewer) runs them, where a filter's candidates are kept until the library
changes, and ``uncached``, as a one-shot ``gallerfs search`` runs them. Without
torch (and no ``--model-dir``) only the engine figures are measured.

The memory index (int8 codes scanned, float32 re-ranked, from the cache file) is timed as a
mount runs it (``engine_latency_memory_index``) and as a one-shot search maps the file
(``engine_latency_one_shot``); ``knn_k50`` times its vector step alone, unfiltered and with the
camera and GPS filters as masks, with ``*_vs_numpy`` ratios to float32 numpy brute force over
the same vectors in the same run and recall@50 against exact search.
``memory_index_resident_mb`` compares the float32 copy the index used to hold with what it
holds now (process memory and mapped file pages).

    python bench/bench_search.py [--sizes 100000,1000000] [--queries 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs.config import Settings  # noqa: E402
from gallerfs.db import albums as albums_db  # noqa: E402
from gallerfs.db import embeddings as embeddings_db  # noqa: E402
from gallerfs.db import files as files_db  # noqa: E402
from gallerfs.db import search as search_db  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.search import Filters, engine, memindex, search_files, vectorcache  # noqa: E402
from gallerfs.search import filters as filters_mod  # noqa: E402
from gallerfs.search.signals import VectorSignal  # noqa: E402
from gallerfs.indexer.clip.model import text_encoder  # noqa: E402
from gallerfs.models import store  # noqa: E402
from gallerfs.models.download import sha256_file  # noqa: E402
from gallerfs.models.manifest import FileSpec, ModelSpec  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gallerfs-bench"
DIM = 512
CAMERAS = [("Apple", "iPhone 12"), ("Canon", "EOS 5D"), ("Sony", "ILCE-7M3"), ("Google", "Pixel 7"), ("Nikon", "D750")]
WORDS = "dog cat beach mountain city night snow birthday cake car bike forest river sunset friends food".split()
TEN_YEARS = 10 * 365 * 86400
START = 1400000000.0


def build(root: Path, n: int, model_dir: Path) -> tuple[LibraryPaths, dict]:
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    db = Database(paths.db)
    photos = root / "photos"
    photos.mkdir()
    source = sources_db.add_source(db, name="bench", path=os.fsencode(photos), mount_point=b"/", fs_uuid=None,
                                   fs_type=None, device=0, root_inode=0)  # fmt: skip
    spec = ModelSpec("bench-vitb32", "random weights", DIM, 224, 77, "", "", tuple(
        FileSpec(role, f"{role}.onnx", "", sha256_file(model_dir / f"{role}.onnx"), None) for role in ("image", "text")))  # fmt: skip
    model = store.import_dir(paths, spec, model_dir)
    embeddings_db.ensure_space(db, model.identity, DIM)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    chunk = 20_000
    for start in range(0, n, chunk):
        entries = [files_db.ScannedFile(f"d{i // 1000:04}/IMG_{i:07}.jpg".encode(), "image", 1_000_000 + i, 10**18 + i,
                                        10**18 + i, 0, i) for i in range(start, min(n, start + chunk))]  # fmt: skip
        with db.transaction():
            files_db.insert_new(db, source.id, entries)
    centres = rng.standard_normal((200, DIM)).astype(np.float32)
    after = 0
    while True:
        tasks = embeddings_db.todo_batch(db, after, chunk)
        if not tasks:
            break
        after = tasks[-1].file_id
        vecs = centres[rng.integers(0, len(centres), len(tasks))] + 0.6 * rng.standard_normal((len(tasks), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with db.transaction():
            embeddings_db.store(db, list(zip(tasks, vecs)), [])
            for task in tasks:
                make, camera = CAMERAS[task.file_id % len(CAMERAS)]
                gps = task.file_id % 10 < 3
                files_db.store_result(db, task.file_id, metadata={
                    "sort_time": START + (task.file_id * 7919 % TEN_YEARS), "make": make, "model": camera,
                    "latitude": 48.0 if gps else None, "longitude": 11.0 if gps else None,
                }, content_hash=None, partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
    albums_db.create_album(db, "Trip")
    albums_db.add_to_album(db, "Trip", range(1, n + 1, max(1, n // 500)))
    build_s = time.perf_counter() - t0
    db.close()
    return paths, {"build_s": round(build_s, 1), "model": model}


def memory_kb() -> dict[str, int]:
    """RssAnon / RssFile of this process (kB)."""
    with open("/proc/self/status") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if k in ("RssAnon", "RssFile")}


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 1)


def placeholder_model(folder: Path) -> Path:
    """Model files that install but cannot run: the library gets a vector space, queries are vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    for role in ("image", "text"):
        (folder / f"{role}.onnx").write_bytes(f"placeholder {role} tower\n".encode())
    return folder


def with_ratios(latency: dict[str, dict]) -> dict[str, dict]:
    base = latency["none"]["p50_ms"]
    for row in latency.values():
        row["ratio_to_unfiltered"] = round(row["p50_ms"] / base, 3) if base else None
    return latency


def run_size(n: int, queries: int, model_dir: Path, tmp: Path, text_tower: bool = True) -> dict:
    root = tmp / f"lib{n}"
    root.mkdir()
    paths, info = build(root, n, model_dir)
    db = Database(paths.db, readonly=True)
    settings = Settings()
    encoder = text_encoder(str(info["model"].text_path), "cpu") if text_tower else None
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS, 3)) + f" {i}" for i in range(queries * 14)]
    if encoder is not None:
        encoder.encode(["warm up"])
    filters = {
        "none": None,
        "one_year": Filters(since="2018", until="2018"),
        "camera": Filters(camera="canon"),
        "has_gps": Filters(has_gps=True),
        "album": Filters(album="Trip"),
        "one_year+camera": Filters(since="2019", until="2019", camera="sony"),
    }
    out: dict = {"vectors": n, "text_tower": text_tower, **{k: v for k, v in info.items() if k != "model"}}
    it = iter(texts)
    query_vectors = rng.standard_normal((queries * 14, DIM)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)

    def engine_latencies(cached: bool) -> dict[str, dict]:
        """Filters + KNN + ranking from a query vector; the filters' turns interleave, query by query."""
        times: dict[str, list[float]] = {name: [] for name in filters}
        hits: dict[str, int] = {}
        vectors = iter(query_vectors)
        for flt in filters.values():  # a first query each, outside the figures (page cache, cached scope)
            engine.rank(db, [VectorSignal(next(vectors))], filters_mod.scope(db, flt), 50, settings.search_relative_cutoff)
        for _ in range(queries):
            for name, flt in filters.items():
                if not cached:
                    filters_mod._scopes.clear()
                vector = next(vectors)
                t = time.perf_counter()
                found = engine.rank(db, [VectorSignal(vector)], filters_mod.scope(db, flt), 50,
                                    settings.search_relative_cutoff)  # fmt: skip
                times[name].append(time.perf_counter() - t)
                hits[name] = len(found)
        return with_ratios({name: {"p50_ms": percentile(ts, 50), "p99_ms": percentile(ts, 99), "hits": hits[name]}
                            for name, ts in times.items()})  # fmt: skip

    def latencies() -> dict[str, dict]:
        result = {}
        for name, flt in filters.items():
            times = []
            for _ in range(queries):
                q = next(it)  # distinct queries: the text cache does not help
                t = time.perf_counter()
                hits = search_files(db, paths, settings, q, 50, flt)
                times.append(time.perf_counter() - t)
            result[name] = {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "hits": len(hits)}
        return result

    one_shot_min = memindex.ONE_SHOT_MIN
    memindex.ONE_SHOT_MIN = 1 << 62  # vec0 answers: no cache file is written yet
    if encoder is not None:
        out["search_latency"] = with_ratios(latencies())
    out["engine_latency"] = engine_latencies(cached=True)
    out["engine_latency_uncached"] = engine_latencies(cached=False)
    memindex.ONE_SHOT_MIN = one_shot_min
    memindex.disable()
    cache_file = vectorcache.path_for(paths.db)
    cache_file.unlink(missing_ok=True)
    rss_before = memory_kb()
    index = memindex.enable(paths.db, max_vectors=max(n, memindex.DEFAULT_MAX_VECTORS))
    t = time.perf_counter()
    index.get(db)
    index.wait()
    out["memory_index_load_s"] = round(time.perf_counter() - t, 2)  # from SQLite, writing the cache file
    memindex.disable()
    index = memindex.enable(paths.db, max_vectors=max(n, memindex.DEFAULT_MAX_VECTORS))
    t = time.perf_counter()
    index.get(db)
    index.wait()
    out["memory_index_map_s"] = round(time.perf_counter() - t, 3)  # a restarted mount: the file is mapped
    if encoder is not None:
        out["search_latency_memory_index"] = with_ratios(latencies())
    out["engine_latency_memory_index"] = engine_latencies(cached=True)
    out["engine_latency_memory_index_uncached"] = engine_latencies(cached=False)
    rss_after = memory_kb()
    out["memory_index_resident_mb"] = {
        "float32_before": round(n * DIM * 4 / 2**20),  # what the index held in process memory until now
        "anon_now": round((rss_after["RssAnon"] - rss_before["RssAnon"]) / 1024),
        "file_pages_now": round((rss_after["RssFile"] - rss_before["RssFile"]) / 1024),  # codes + re-ranked rows
        "cache_file": round(cache_file.stat().st_size / 2**20),
    }
    memindex.disable()
    out["engine_latency_one_shot"] = engine_latencies(cached=False)  # as 'gallerfs search' runs: the file mapped
    memindex.disable()
    if encoder is not None:
        enc = []
        for _ in range(queries):
            t = time.perf_counter()
            encoder.encode([next(it)])
            enc.append(time.perf_counter() - t)
        out["text_encode_p50_ms"] = percentile(enc, 50)
    # KNN alone: vec0 and the int8 index against numpy float32 brute force over the same vectors in memory.
    ids, matrix = embeddings_db.vectors_for(db, range(1, n + 1))
    snap = memindex.one_shot(db) or memindex.Snapshot(embeddings_db.version(db), ids, matrix)
    masks = {"camera": np.isin(snap.ids, np.array(search_db.matching_ids(db, Filters(camera="canon").to_spec(), n))),
             "has_gps": np.isin(snap.ids, np.array(search_db.matching_ids(db, Filters(has_gps=True).to_spec(), n)))}  # fmt: skip
    qs = rng.standard_normal((queries, DIM)).astype(np.float32)
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    vec_t, np_t, recall = [], [], []
    int8_t: dict[str, list[float]] = {"none": [], **{name: [] for name in masks}}
    int8_recall: dict[str, list[float]] = {name: [] for name in int8_t}
    for q in qs:
        t = time.perf_counter()
        got = search_db.knn(db, q, 50)
        vec_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        scores = matrix @ q
        top = np.argpartition(-scores, 49)[:50]
        top = top[np.argsort(-scores[top])]
        np_t.append(time.perf_counter() - t)
        recall.append(len({i for i, _ in got} & set(ids[top].tolist())) / 50)
        exact_scores = snap.matrix @ q
        for name in int8_t:
            mask = masks.get(name)
            t = time.perf_counter()
            rows, _ = snap.best(q, 50, mask)
            int8_t[name].append(time.perf_counter() - t)
            want = np.where(mask, exact_scores, -np.inf) if mask is not None else exact_scores
            int8_recall[name].append(len(set(rows.tolist()) & set(np.argsort(-want)[:50].tolist())) / 50)
    base = float(np.median(np_t))
    out["knn_k50"] = {
        "vec0_p50_ms": percentile(vec_t, 50),
        "numpy_p50_ms": percentile(np_t, 50),
        "vec0_vs_numpy": round(float(np.median(vec_t)) / base, 2),
        "agreement_at_50": round(float(np.mean(recall)), 3),
        **{f"int8_{name}_p50_ms": percentile(ts, 50) for name, ts in int8_t.items()},
        **{f"int8_{name}_vs_numpy": round(float(np.median(ts)) / base, 3) for name, ts in int8_t.items()},
        **{f"int8_{name}_recall_at_50": round(float(np.mean(r)), 4) for name, r in int8_recall.items()},
    }
    for section in ("engine_latency_memory_index", "engine_latency_memory_index_uncached", "engine_latency_one_shot"):
        for row in out[section].values():  # the whole engine step against the brute-force vector step alone
            row["ratio_to_numpy_brute_force"] = round(row["p50_ms"] / (base * 1000), 3)
    db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--model-dir", type=Path, help="folder with image.onnx and text.onnx (default: random ViT-B/32)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-text-tower", action="store_true", help="engine figures only (automatic without torch)")
    args = parser.parse_args()
    model_dir = args.model_dir
    text_tower = not args.no_text_tower
    with tempfile.TemporaryDirectory() as tmp:
        if model_dir is None and text_tower:
            try:
                from bench.clip_random import export

                model_dir = export(CACHE / "vitb32-random")
            except ImportError as exc:  # torch is the bench extra
                print(f"bench_search: no text tower ({exc}); engine figures only", file=sys.stderr)
                text_tower = False
        if model_dir is None:
            model_dir = placeholder_model(Path(tmp) / "placeholder-model")
        results = []
        for size in (int(s) for s in args.sizes.split(",")):
            results.append(run_size(size, args.queries, model_dir, Path(tmp), text_tower))
            print(json.dumps(results[-1]), file=sys.stderr)
    text = json.dumps({"benchmark": "search", "cpus": os.cpu_count(), "results": results}, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
