"""Mount memory benchmark: RSS of a gallerfs mount while browsing, and after the kernel drops its caches.

    .venv/bin/python bench/bench_mount_memory.py [--files 100000] [--names 10000] [--workdir /var/tmp/gallerfs-bench]

Prints one JSON object. Needs root (it writes /proc/sys/vm/drop_caches). The
library is bench/tree.py's hard-linked tree (`add`, `index --scan-only`) and
its 300 distinct originals as a second source, fully indexed with the tests'
small CLIP model, so that search/ and similar/ have embeddings to rank.

A browse is `ls -lR` of ``sources/`` and of ``by-date/`` (every file looked
up: readdirplus and lookups), then ``stat`` of --names distinct
``search/<query>`` folders and --names distinct ``similar/<photo>`` folders
(``similar/NN u00042.jpg``: each name a folder of its own), and a listing of
20 queries. Figures:

- rss_*_mb: the mount process's resident set size: idle, after one browse,
  after `echo 3 > drop_caches` (the kernel forgets every inode, and the mount
  its nodes), and after a second browse and a second drop;
- second_vs_first_browse: RSS after the second browse over RSS after the first:
  about 1.0 when nothing piles up between browses (Python keeps freed memory
  for reuse, so RSS after a drop falls less than the memory really freed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_mount import GALLERFS, PROJECT, Mounted, timed_shell  # noqa: E402


class LoggedMount(Mounted):
    """``Mounted`` with the mount's log in a file: a pipe nobody reads stalls a mount that logs a lot."""

    def __init__(self, cmd: list[str], path: Path, env: dict[str, str], log: Path) -> None:
        super().__init__(cmd, path, env)
        self.log = log

    def __enter__(self) -> LoggedMount:
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while not os.path.ismount(self.path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the mount did not come up: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        return self
from bench.tree import make_tree  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def drop_caches(pid: int) -> float:
    """Have the kernel forget every inode it can, wait for the mount to settle; its RSS then."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as fh:
        fh.write("3\n")
    last, stable = rss_mb(pid), 0
    deadline = time.monotonic() + 30
    while stable < 5 and time.monotonic() < deadline:  # forgets arrive asynchronously
        time.sleep(0.2)
        now = rss_mb(pid)
        stable = stable + 1 if abs(now - last) < 0.5 else 0
        last = now
    return last


def build_library(work: Path, tree: Path, files: int, env: dict[str, str]) -> None:
    library = Path(env["GALLERFS_LIBRARY"])
    stamp = library / f".bench-v3-{files}"
    if stamp.exists():
        return
    shutil.rmtree(library, ignore_errors=True)
    from tests import clipmodel

    manifest = clipmodel.write_model_dir(work / "memory-model")
    # the originals first, fully indexed (phase 2 takes every pending file); then the tree, phase 1 only
    for cmd in (["add", "--name", "uniques", str(work / "uniques")],
                ["models", "import", str(work / "memory-model"), "--manifest", str(manifest)], ["index", "--json"],
                ["add", "--name", "tree", str(tree)], ["index", "--scan-only", "--json"]):  # fmt: skip
        subprocess.run([*GALLERFS, *cmd], env=env, check=True, capture_output=True)
    stamp.touch()


def browse(mnt: Path, names: int, uniques: list[str], round_: int) -> dict[str, float]:
    out: dict[str, float] = {}
    out["ls_lR_sources_s"] = round(timed_shell(f"ls -lR {mnt}/sources > /dev/null")[0], 3)
    out["ls_lR_by_date_s"] = round(timed_shell(f"ls -lR {mnt}/by-date > /dev/null")[0], 3)
    start = time.perf_counter()
    for i in range(names):
        os.stat(mnt / "search" / f"query {round_} {i}")
    out["stat_search_names_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    for i in range(names):  # 'NN u00042.jpg' (a ranked name) stands for u00042.jpg: 90 names per photo
        n = i + (round_ - 1) * names
        try:
            os.stat(mnt / "similar" / f"{10 + n // len(uniques) % 90:02d} {uniques[n % len(uniques)]}")
        except FileNotFoundError:
            pass
    out["stat_similar_names_s"] = round(time.perf_counter() - start, 3)
    for i in range(20):
        try:
            os.listdir(mnt / "search" / f"listed {i}")
        except OSError:
            pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--names", type=int, default=10_000)
    ap.add_argument("--workdir", default="/var/tmp/gallerfs-bench")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root: it writes /proc/sys/vm/drop_caches")
    work = Path(args.workdir)
    tree = make_tree(work, args.files)
    env = dict(os.environ, GALLERFS_LIBRARY=str(work / f"library-memory-{args.files}"), PYTHONPATH=str(PROJECT))
    env.pop("GALLERFS_CONFIG", None)
    build_library(work, tree, args.files, env)
    mnt = work / "mnt-memory"
    result: dict[str, object] = {"benchmark": "mount_memory", "files": args.files, "names": args.names}
    log = work / "mount-memory.log"
    with LoggedMount([*GALLERFS, "mount", "-f", str(mnt)], mnt, env, log) as m:
        pid = m.proc.pid
        time.sleep(1.0)
        result["rss_idle_mb"] = rss_mb(pid)
        uniques = sorted(os.listdir(mnt / "sources" / "uniques"))
        result["first_browse"] = browse(mnt, args.names, uniques, 1)
        result["rss_after_browse_mb"] = rss_mb(pid)
        result["rss_after_drop_caches_mb"] = drop_caches(pid)
        result["second_browse"] = browse(mnt, args.names, uniques, 2)
        result["rss_after_second_browse_mb"] = rss_mb(pid)
        result["rss_after_second_drop_caches_mb"] = drop_caches(pid)
    result["mount_log_lines"] = len(log.read_text(errors="replace").splitlines())
    grown = result["rss_after_browse_mb"] - result["rss_idle_mb"]  # type: ignore[operator]
    result["second_vs_first_browse"] = round(result["rss_after_second_browse_mb"] / result["rss_after_browse_mb"], 3)  # type: ignore[operator]
    result["dropped_fraction_of_growth"] = round(
        (result["rss_after_browse_mb"] - result["rss_after_drop_caches_mb"]) / grown, 3) if grown > 0 else None  # type: ignore[operator]  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
