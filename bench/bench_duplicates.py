"""Benchmark duplicate finding; prints JSON.

Exact: a generated tree of N files with mostly unique sizes (as photo
libraries have), 1% of them in duplicate sets of 2-3 copies and 0.5% decoys of
the same size as another file but other content. The tree is added and walked
with the real CLI (``gallerfs index --scan-only``: no hashes yet), then
``gallerfs duplicates --exact --json`` finds the sets; bytes read are compared
with the tree's total, the whole command's time (start-up included; the
best of --repeat runs, as other work on a shared machine only ever adds time) with ``jdupes -r -q`` and ``fdupes -r -q`` on the
same tree, warm and (where caches can be dropped) cold, as ratios
(``gallerfs_vs_jdupes`` < 1: faster), and the sets with jdupes' sets. A rerun
(the hashes found now in the index) is compared with jdupes warm.

Near: grouping N synthetic 64-bit pHashes (random photos plus planted clusters
of 2-5 near copies 0-6 bits apart), timed in-process, with precision and
recall against the planted clusters; and again as a later run does, with the
candidate pairs from the pair cache.

Pixel check: confirming a candidate pair on its thumbnails (a cropped copy,
which needs the crop search, and a burst shot, which runs it to the end and
fails), as a ratio of decoding the pair's two thumbnails.

    python bench/bench_duplicates.py [--files 100000] [--near 100000] [--pixel-pairs 300] [--repeat 3] [--tree DIR]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_tree(folder: Path, n: int, seed: int = 5) -> dict:
    """n files: unique sizes, plus duplicate sets and same-size decoys; returns the planted truth."""
    rng = random.Random(seed)
    blob = (
        np.random.default_rng(seed)
        .integers(0, 256, size=32 << 20, dtype=np.uint8)
        .tobytes()
    )
    n_dup_sets = max(1, n // 200)  # ~1% of files are extra copies
    n_decoys = max(1, n // 200)
    n_unique = (
        n - n_decoys - sum(1 for _ in range(0))
    )  # copies are added on top below, then trimmed
    sizes = rng.sample(range(2000, 2000 + int(n * 1.1)), n_unique)
    total = 0
    count = 0
    paths: list[tuple[Path, int, int]] = []  # (path, size, offset)
    for i, size in enumerate(sizes):
        offset = rng.randrange(0, len(blob) - size)
        paths.append((folder / f"{i // 500:03d}" / f"IMG_{i:06d}.jpg", size, offset))
    copies: list[list[str]] = []
    for k in range(n_dup_sets):
        path, size, offset = paths[
            rng.randrange(len(sizes))
        ]  # an original, never an earlier copy
        group = [str(path)]
        for c in range(rng.choice([1, 1, 2])):
            dup = folder / "backup" / f"{k:04d}_{c}" / path.name
            paths.append((dup, size, offset))
            group.append(str(dup))
        copies.append(group)
    for k in range(n_decoys):
        path, size, offset = paths[rng.randrange(len(sizes))]
        other = (offset + 4096) % (len(blob) - size)
        paths.append((folder / "decoys" / f"D{k:05d}.jpg", size, other))
    for path, size, offset in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(blob[offset : offset + size])
        total += size
        count += 1
    # Copies of the same original chosen twice merge into one set.
    merged: dict[str, set[str]] = {}
    for g in copies:
        merged.setdefault(g[0], set()).update(g)
    return {
        "files": count,
        "bytes": total,
        "sets": sorted(sorted(s) for s in merged.values()),
    }


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return True
    except OSError:
        return False


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed: {proc.stderr[-500:]}")
    return elapsed, proc.stdout


def parse_dupes(out: str) -> list[list[str]]:
    sets, current = [], []
    for line in out.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            sets.append(sorted(current))
            current = []
    if current:
        sets.append(sorted(current))
    return sorted(sets)


def in_process(fresh_library, db_path: Path, cold: bool) -> float:
    """find_exact alone (no interpreter start-up or CLI imports), on the same fresh library."""
    from gallerfs.db.connection import Database
    from gallerfs.indexer.duplicates.exact import find_exact

    fresh_library()
    if cold:
        drop_caches()
    with Database(db_path) as db:
        start = time.perf_counter()
        find_exact(db)
        return round(time.perf_counter() - start, 3)


def bench_exact(n: int, tree_dir: Path | None, repeat: int = 3, bytecode: str = "installed") -> dict:
    work = Path(tempfile.mkdtemp(prefix="gfs-dupbench-"))
    tree = (tree_dir or work / "tree").absolute()
    try:
        t0 = time.perf_counter()
        truth = make_tree(tree, n)
        gen_s = time.perf_counter() - t0
        lib = work / "lib"
        env = dict(os.environ, PYTHONPATH=str(ROOT), GALLERFS_LIBRARY=str(lib))
        if bytecode == "installed":  # as after pip install: compiled once, not in every run
            env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        gallerfs = [sys.executable, "-m", "gallerfs"]
        subprocess.run(
            [*gallerfs, "add", str(tree)], env=env, check=True, capture_output=True
        )
        subprocess.run(
            [*gallerfs, "index", "--scan-only"],
            env=env,
            check=True,
            capture_output=True,
        )
        db = lib / "library.sqlite3"
        subprocess.run(
            ["sqlite3", str(db), "PRAGMA wal_checkpoint(TRUNCATE)"],
            capture_output=True,
            check=True,
        )
        pristine = work / "pristine.sqlite3"
        shutil.copy2(db, pristine)

        def fresh_library() -> None:
            for suffix in ("-wal", "-shm"):
                Path(str(db) + suffix).unlink(missing_ok=True)
            shutil.copy2(pristine, db)
            subprocess.run(["sync"], check=True)  # the copy's writeback is not the command's to wait for

        result: dict = {
            "files": truth["files"],
            "bytes": truth["bytes"],
            "generate_s": round(gen_s, 2),
            "bytecode": bytecode,
        }
        runs: dict[str, dict] = {}
        modes = ["warm"] + (["cold"] if drop_caches() else [])
        tools = [t for t in ("jdupes", "fdupes") if shutil.which(t)]
        gsets: list = []
        same = False
        for mode in modes:
            samples: dict[str, list[float]] = {}
            subprocess.run(["sync"], check=True)  # no writeback of the generated tree during the runs
            for _ in range(repeat):
                if mode == "warm":  # prime the caches (interpreter, modules, index, the bytes it reads)
                    fresh_library()
                    timed([*gallerfs, "duplicates", "--exact", "--json"], env=env)
                fresh_library()
                if mode == "cold":
                    drop_caches()
                secs, out = timed([*gallerfs, "duplicates", "--exact", "--json"], env=env)
                data = json.loads(out)
                samples.setdefault("gallerfs_s", []).append(secs)
                samples.setdefault("gallerfs_in_process_s", []).append(in_process(fresh_library, db, mode == "cold"))
                gsets = sorted(sorted(m["path"] for m in s["members"]) for s in data["exact"])
                for tool in tools:
                    if mode == "cold":
                        drop_caches()
                    else:
                        timed([tool, "-r", "-q", str(tree)])  # prime
                    secs, out = timed([tool, "-r", "-q", str(tree)])
                    samples.setdefault(f"{tool}_s", []).append(secs)
                    samples.setdefault(f"gallerfs_per_{tool}", []).append(samples["gallerfs_s"][-1] / secs)
                    if tool == "jdupes":
                        same = parse_dupes(out) == gsets
            ratios = {k: samples.pop(k) for k in list(samples) if k.startswith("gallerfs_per_")}
            row: dict = {k: round(min(v), 3) for k, v in samples.items()}
            row["gallerfs_bytes_read"] = data["hashing"]["bytes_read"]
            if "jdupes_s" in row:
                row["same_sets_as_jdupes"] = same
                row["gallerfs_vs_jdupes"] = round(row["gallerfs_s"] / row["jdupes_s"], 2)
                # The median of each repeat's ratio to the jdupes run right after it (a noisy machine slows both).
                row["gallerfs_vs_jdupes_median"] = round(statistics.median(ratios["gallerfs_per_jdupes"]), 2)
            runs[mode] = row
        result["runs"] = runs
        # For scale: the CLI's own start-up (imports of every command), paid by any gallerfs command.
        result["cli_startup_s"] = round(min(timed([*gallerfs, "--version"], env=env)[0] for _ in range(3)), 3)
        result["found_sets"] = len(gsets)
        result["planted_sets"] = len(truth["sets"])
        result["planted_sets_found"] = all(s in gsets for s in truth["sets"])
        result["bytes_read_fraction"] = round(
            runs["warm"]["gallerfs_bytes_read"] / truth["bytes"], 5
        )
        # Later runs: the hashes found are in the index now; only the first 4 KiB of same-size files
        # nobody has hashed yet are read again.
        timed([*gallerfs, "duplicates", "--exact", "--json"], env=env)
        reruns = [timed([*gallerfs, "duplicates", "--exact", "--json"], env=env) for _ in range(repeat)]
        result["rerun_s"] = round(min(secs for secs, _ in reruns), 3)
        result["rerun_bytes_read"] = json.loads(reruns[-1][1])["hashing"]["bytes_read"]
        if "jdupes_s" in runs["warm"]:
            result["rerun_vs_jdupes_warm"] = round(result["rerun_s"] / runs["warm"]["jdupes_s"], 2)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if tree_dir:
            shutil.rmtree(tree_dir, ignore_errors=True)


def bench_near(n: int, distance: int = 8, max_group: int = 50, seed: int = 11) -> dict:
    from gallerfs.indexer.duplicates.near import HashedFile, candidate_pairs, find_near
    from gallerfs.indexer.duplicates.pair_cache import cached_pairs

    rng = np.random.default_rng(seed)
    n_clusters = n // 20
    copies_per = rng.integers(1, 5, size=n_clusters)  # 1-4 near copies each
    n_base = n - int(copies_per.sum())
    base = rng.integers(-(2**63), 2**63 - 1, size=n_base, dtype=np.int64, endpoint=True)
    base_d = rng.integers(
        -(2**63), 2**63 - 1, size=n_base, dtype=np.int64, endpoint=True
    )
    hashes, dhashes = list(base.tolist()), list(base_d.tolist())

    def flip(value: int) -> int:
        value &= (1 << 64) - 1
        for bit in rng.choice(64, size=int(rng.integers(0, 7)), replace=False):
            value ^= 1 << int(bit)
        return value - (1 << 64) if value >= 1 << 63 else value

    truth: list[set[int]] = []
    for c in range(n_clusters):
        group = {c}
        for _ in range(int(copies_per[c])):
            hashes.append(flip(int(base[c])))
            dhashes.append(flip(int(base_d[c])))
            group.add(len(hashes) - 1)
        truth.append(group)
    files = [HashedFile(i, h, d) for i, (h, d) in enumerate(zip(hashes, dhashes))]
    start = time.perf_counter()
    groups = find_near(files, max_distance=distance, max_group=max_group)
    elapsed = time.perf_counter() - start
    # A later run over the same hashes: the candidate pairs come from the library's pair cache.
    with tempfile.TemporaryDirectory(prefix="gfs-pairs-") as cache:

        def pairs(fs, d):  # noqa: ANN001, ANN202
            return cached_pairs(Path(cache), fs, d, lambda: candidate_pairs(fs, d))

        find_near(files, max_distance=distance, max_group=max_group, pairs=pairs)
        start = time.perf_counter()
        cached = find_near(files, max_distance=distance, max_group=max_group, pairs=pairs)
        cached_s = time.perf_counter() - start
    assert cached == groups
    found_pairs = {(a, b) for g in groups for a in g.ids for b in g.ids if a < b}
    true_pairs = {(a, b) for g in truth for a in g for b in g if a < b}
    tp = len(found_pairs & true_pairs)
    return {
        "hashes": len(hashes), "distance": distance, "seconds": round(elapsed, 2),
        "seconds_with_cached_pairs": round(cached_s, 3), "groups": len(groups),
        "planted_groups": len(truth), "pair_precision": round(tp / max(1, len(found_pairs)), 4),
        "pair_recall": round(tp / max(1, len(true_pairs)), 4), "largest_group": max(len(g.ids) for g in groups),
    }  # fmt: skip


def bench_pixel_check(pairs: int, seed: int = 13) -> dict:
    """Cost of confirming perceptual-hash neighbours on pixels, against decoding the thumbnails it needs.

    Synthetic textured pictures (256 px, like grid thumbnails): for each, a true copy
    (resized and cropped 3%, which needs the crop search) and a burst shot (a patch moved:
    the full search runs and fails). Baseline: decoding both JPEG thumbnails of a pair,
    which any pixel comparison must do.
    """
    import io

    from PIL import Image

    from gallerfs.indexer.duplicates.look import look_of, same_picture

    rng = np.random.default_rng(seed)
    thumbs: list[tuple[bytes, bytes, bytes]] = []
    for _ in range(pairs):
        noise = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
        base = Image.fromarray(noise).resize((256, 192), Image.Resampling.BICUBIC)
        w, h = base.size
        copy = base.crop((int(w * 0.03), int(h * 0.03), w, h)).resize((200, 150))
        burst = base.copy()
        burst.paste(base.crop((0, 0, 50, 40)), (150, 100))
        encoded = []
        for im in (base, copy, burst):
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=85)
            encoded.append(buf.getvalue())
        thumbs.append((encoded[0], encoded[1], encoded[2]))

    def decode(data: bytes) -> Image.Image:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.copy()

    start = time.perf_counter()
    for a, b, _ in thumbs:
        decode(a), decode(b)
    baseline = (time.perf_counter() - start) / pairs
    copies_ok = bursts_ok = 0
    start = time.perf_counter()
    for a, b, _ in thumbs:
        copies_ok += same_picture(look_of(decode(a), sized=False), look_of(decode(b), sized=False))
    copy_time = (time.perf_counter() - start) / pairs
    start = time.perf_counter()
    for a, _, c in thumbs:
        bursts_ok += not same_picture(look_of(decode(a), sized=False), look_of(decode(c), sized=False))
    burst_time = (time.perf_counter() - start) / pairs
    return {
        "pairs": pairs, "decode_pair_ms": round(baseline * 1000, 3),
        "copy_pair_ms": round(copy_time * 1000, 3), "burst_pair_ms": round(burst_time * 1000, 3),
        "copy_vs_decode": round(copy_time / baseline, 2), "burst_vs_decode": round(burst_time / baseline, 2),
        "copies_confirmed": round(copies_ok / pairs, 4), "bursts_rejected": round(bursts_ok / pairs, 4),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files",
        type=int,
        default=100_000,
        help="files in the generated tree (0: skip)",
    )
    parser.add_argument(
        "--near", type=int, default=100_000, help="synthetic pHashes (0: skip)"
    )
    parser.add_argument(
        "--pixel-pairs", type=int, default=300, help="candidate pairs for the pixel check (0: skip)"
    )
    parser.add_argument(
        "--tree", type=Path, help="where to generate the tree (default: a temp dir)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each timed command (the best is reported)"
    )
    parser.add_argument("--bytecode", choices=("installed", "environment"), default="installed",
                        help="gallerfs with its bytecode cached as after pip install (default), or the environment "
                        "as it is (PYTHONDONTWRITEBYTECODE=1: every module compiled in every run)")  # fmt: skip
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    report: dict = {"machine": {"cpus": os.cpu_count()}}
    if args.near:
        report["near"] = bench_near(args.near)
    if args.pixel_pairs:
        report["pixel_check"] = bench_pixel_check(args.pixel_pairs)
    if args.files:
        report["exact"] = bench_exact(args.files, args.tree, args.repeat, args.bytecode)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
