"""Indexing benchmark: phase 1 vs find, and peak memory of a whole 'gallerfs index'.

    .venv/bin/python bench/bench_index.py [--files 100000] [--rounds 3] [--workdir /var/tmp/gallerfs-bench]

Prints one JSON object. Ratios are measured in the same run, because these
machines are noisy: the baseline is a walk that stats every file,
`find TREE -type f -printf '%s %T@ %i\\n'` (warm cache), timed before and after
each gallerfs run of a round; every ratio is a median over rounds of a run
over the median find of its round. phase1_* is a first walk into an empty
library (whole command, start-up included; *_walk_* is the scan alone);
rescan_unchanged_* is the same phase 1 again over an index that already holds
every file (a rescan where nothing changed); index_peak_rss_mb is the largest
resident set of the indexer and its workers. phase1_cpu_vs_find_cpu compares CPU
time (user + system) instead, and load_average_1min says how busy the machine
was: the walk and the database writes run on two threads, so a busy machine
(another process on the second core) stretches gallerfs's wall time more than
find's.

--bytecode installed (the default) runs gallerfs as after 'pip install': compiled
bytecode cached (in a private PYTHONPYCACHEPREFIX, warmed by one run of each
command); --bytecode environment runs it with the environment as it is (with
PYTHONDONTWRITEBYTECODE=1 and no cache next to the sources, every gallerfs
module is compiled again in every run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.tree import make_tree  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


_CPU: list[float] = []  # CPU seconds (user + system) of each command _timed ran, in order


def _timed(cmd: list[str], env: dict[str, str] | None = None, shell: bool = False) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, shell=shell, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, out


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--workdir", default="/var/tmp/gallerfs-bench")
    ap.add_argument("--rounds", type=int, default=3, help="phase-1 rounds (medians are reported)")
    ap.add_argument("--skip-phase2", action="store_true", help="only measure phase 1")
    ap.add_argument("--bytecode", choices=("installed", "environment"), default="installed",
                    help="cached bytecode as after pip install, or the environment as it is (see above)")  # fmt: skip
    args = ap.parse_args()
    work = Path(args.workdir)
    tree = make_tree(work, args.files)
    library = work / f"library-{args.files}"
    shutil.rmtree(library, ignore_errors=True)
    env = dict(os.environ, GALLERFS_LIBRARY=str(library), PYTHONPATH=str(PROJECT))
    if args.bytecode == "installed":
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    gallerfs = [sys.executable, "-m", "gallerfs"]
    result: dict[str, object] = {"benchmark": "index", "files": args.files, "bytecode": args.bytecode}

    count = subprocess.run(f"find {tree} -type f | wc -l", shell=True, capture_output=True, text=True, check=True)
    assert int(count.stdout) == args.files, count.stdout
    find_cmd = [f"find {tree} -type f -printf '%s %T@ %i\\n' > /dev/null"]
    _timed(find_cmd, shell=True)  # warm up
    subprocess.run([*gallerfs, "add", str(tree)], env=env, check=True, capture_output=True)
    subprocess.run([*gallerfs, "index", "--scan-only"], env=env, check=True, capture_output=True)  # warm up
    startup, _ = _timed([*gallerfs, "--version"], env=env)
    load_before = _load()
    cpu: dict[str, list[float]] = {"find": [], "phase1": []}
    rounds: dict[str, list[float]] = {k: [] for k in (
        "find", "phase1", "phase1_walk", "rescan", "rescan_walk")}  # fmt: skip
    ratios: dict[str, list[float]] = {k: [] for k in ("phase1", "phase1_walk", "rescan", "rescan_walk")}
    for _ in range(args.rounds):
        shutil.rmtree(library, ignore_errors=True)
        subprocess.run([*gallerfs, "add", str(tree)], env=env, check=True, capture_output=True)
        finds = [_timed(find_cmd, shell=True)[0]]
        cpu["find"].append(_CPU[-1])
        phase1, out = _timed([*gallerfs, "index", "--scan-only", "--json"], env=env)
        cpu["phase1"].append(_CPU[-1])
        finds.append(_timed(find_cmd, shell=True)[0])
        # The same walk over an index that already holds every file: 'gallerfs rescan' when nothing changed.
        rescan, out2 = _timed([*gallerfs, "index", "--scan-only", "--json"], env=env)
        finds.append(_timed(find_cmd, shell=True)[0])
        find = statistics.median(finds)
        figures = {
            "phase1": phase1, "phase1_walk": json.loads(out)["sources"][0]["elapsed_s"],
            "rescan": rescan, "rescan_walk": json.loads(out2)["sources"][0]["elapsed_s"],
        }  # fmt: skip
        rounds["find"].append(find)
        for key, value in figures.items():
            rounds[key].append(value)
            ratios[key].append(value / find)
    med = {k: round(statistics.median(v), 3) for k, v in rounds.items()}
    rat = {k: round(statistics.median(v), 2) for k, v in ratios.items()}
    result.update(
        rounds=args.rounds,
        find_printf_warm_s=med["find"],
        gallerfs_startup_s=round(startup, 3),
        phase1_warm_s=med["phase1"],
        phase1_vs_find=rat["phase1"],
        phase1_walk_s=med["phase1_walk"],
        phase1_walk_vs_find=rat["phase1_walk"],
        rescan_unchanged_s=med["rescan"],
        rescan_unchanged_vs_find=rat["rescan"],
        rescan_unchanged_walk_s=med["rescan_walk"],
        rescan_unchanged_walk_vs_find=rat["rescan_walk"],
        phase1_target_vs_find=5.0,
        # CPU seconds (user + system, every thread) of the first walk against find's: steadier than wall
        # times on a busy machine, and an upper bound of what the walk costs where it has one core.
        phase1_cpu_s=round(statistics.median(cpu["phase1"]), 3),
        find_printf_cpu_s=round(statistics.median(cpu["find"]), 3),
        phase1_cpu_vs_find_cpu=round(statistics.median(cpu["phase1"]) / statistics.median(cpu["find"]), 2),
        load_average_1min=[load_before, _load()],  # before and after the rounds: over ~1 the ratios mean less
    )
    if _drop_caches():
        find_cold, _ = _timed(find_cmd, shell=True)
        shutil.rmtree(library)
        subprocess.run([*gallerfs, "add", str(tree)], env=env, check=True, capture_output=True)
        _drop_caches()
        phase1_cold, _ = _timed([*gallerfs, "index", "--scan-only", "--json"], env=env)
        result.update(find_cold_s=round(find_cold, 3), phase1_cold_s=round(phase1_cold, 3),
                      phase1_cold_vs_find=round(phase1_cold / find_cold, 2))  # fmt: skip
    if not args.skip_phase2:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        phase2, out = _timed([*gallerfs, "index", "--json"], env=env)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        report = json.loads(out)
        result.update(
            phase2_s=round(phase2, 1),
            phase2_files_per_s=round(report["processed"] / phase2, 1),
            phase2_failed=report["failed"],
            index_peak_rss_mb=round(max(peak_kb, before) / 1024, 1),
            index_peak_rss_target_mb=400,
        )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
