"""Where phase 1's walk should move to a child process: a first walk of sources of several sizes, walked on
a thread only, or handed over to a child process past each of several thresholds (0: at once).

    .venv/bin/python bench/bench_walk_process.py [--sizes 4000,10000,20000,40000,100000]
                                                 [--thresholds 0,4000,10000,20000] [--rounds 5] [--rescan]

Prints one JSON object: for each size, the median seconds of scan_source (a first walk into an empty
library, in this process: no interpreter start-up; with --rescan, a second walk where nothing changed) and the median CPU seconds it took (this process and
its children: a child started for nothing costs CPU a busy machine does not have), for each way, and
each way's ratio to the thread's, measured in the same round. The child's start-up (until it is ready
for its request) is measured too. "policy" is what phase 1 does: walk_process.HAND_OVER_AT for a first
walk, at once for a rescan of walk_process.KNOWN_LARGE files or more.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.indexer import walk_process  # noqa: E402
from gallerfs.indexer.scanner import scan_source  # noqa: E402
from gallerfs.indexer.volumes import identify  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402



def make_tree(root: Path, count: int, per_folder: int = 500) -> None:
    for i in range(count):
        folder = root / f"{i // per_folder:04}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"IMG_{i:06}.jpg").touch()


def _cpu() -> float:
    return sum(
        u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                          resource.getrusage(resource.RUSAGE_CHILDREN))
    )  # fmt: skip


def first_walk(tree: Path, work: Path, rescan: bool = False) -> tuple[float, float]:
    """Seconds and CPU seconds of a first walk into an empty library, or (rescan) of a second walk."""
    shutil.rmtree(work / "library", ignore_errors=True)
    paths = LibraryPaths(root=work / "library", config_file=work / "library" / "config.toml")
    paths.ensure()
    db = Database(paths.db)
    ident = identify(os.fsencode(tree))
    source = sources_db.add_source(
        db, name="bench", path=os.fsencode(tree), mount_point=ident.mount_point, fs_uuid=ident.fs_uuid,
        fs_type=ident.fs_type, device=ident.device, root_inode=ident.root_inode,
    )  # fmt: skip
    if rescan:  # the first walk, untimed
        scan_source(db, source)
        source = sources_db.get_source(db, source.id) or source
    start, cpu = time.perf_counter(), _cpu()
    scan_source(db, source)
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    db.close()
    return elapsed, cpu


def child_start_s() -> float:
    start = time.perf_counter()
    child = walk_process.WalkChild()
    while not child.poll_ready():
        select.select([child.proc.stdout], [], [], 10)
    elapsed = time.perf_counter() - start
    child.kill()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4000,10000,20000,40000,100000")
    ap.add_argument("--thresholds", default="0,4000,10000,20000")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rescan", action="store_true", help="time a rescan where nothing changed instead")
    args = ap.parse_args()
    result: dict[str, object] = {"benchmark": "walk_process", "HAND_OVER_AT": walk_process.HAND_OVER_AT,
                                 "scan": "rescan" if args.rescan else "first walk"}  # fmt: skip
    result["child_ready_s"] = round(statistics.median(child_start_s() for _ in range(args.rounds)), 4)
    # Each way's threshold applies to first walks and rescans alike (KNOWN_LARGE is set aside); "policy" is
    # what phase 1 does (walk_process.hand_over_threshold).
    policy = (walk_process.HAND_OVER_AT, walk_process.KNOWN_LARGE)
    ways = {"thread": 1 << 62, **{f"hand_over_{t}": int(t) for t in args.thresholds.split(",")}, "policy": -1}
    with tempfile.TemporaryDirectory(prefix="gallerfs-walk-bench-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            tree = work / f"tree-{size}"
            make_tree(tree, size)
            first_walk(tree, work)  # warm the cache
            times: dict[str, list[float]] = {way: [] for way in ways}
            cpus: dict[str, list[float]] = {way: [] for way in ways}
            ratios: dict[str, list[float]] = {way: [] for way in ways}
            for _ in range(args.rounds):
                for way, threshold in ways.items():
                    walk_process.HAND_OVER_AT, walk_process.KNOWN_LARGE = policy if threshold < 0 else (threshold, 1 << 62)
                    elapsed, cpu = first_walk(tree, work, args.rescan)
                    times[way].append(elapsed)
                    cpus[way].append(cpu)
                for way in ways:
                    ratios[way].append(times[way][-1] / times["thread"][-1])
            result[str(size)] = {
                **{f"{way}_s": round(statistics.median(v), 4) for way, v in times.items()},
                **{f"{way}_cpu_s": round(statistics.median(v), 4) for way, v in cpus.items()},
                **{f"{way}_vs_thread": round(statistics.median(v), 3) for way, v in ratios.items() if way != "thread"},
            }
            shutil.rmtree(tree)
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
