"""Run every benchmark and print one JSON object of their figures.

    .venv/bin/python bench/run.py            # the sizes the issues ask for (100k files; takes a while)
    .venv/bin/python bench/run.py --quick    # small sizes, to check the benchmarks work
    .venv/bin/python bench/run.py index mount   # only these

Each bench/bench_NAME.py also runs on its own and prints its JSON; ratios inside
each come from the same run, since these machines are noisy. The embedding and
search benchmarks need torch for a random-weight ViT-B/32 (pip install -e '.[bench]').
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = {
    "phase2": [],
    "index": ["--files", "100000"],
    "mount": ["--files", "100000"],
    "mount_writes": [],
    "mount_memory": ["--files", "100000", "--names", "10000"],
    "duplicates": [],
    "embed": [],
    "search": [],
    "cli": [],
    "viewer": ["--files", "100000"],
    "map": [],
    "plots": ["--files", "100000"],
    "places": ["--points", "100000"],
    "tags": [],
    "ocr": [],
    "faces": ["--images", "16"],
    "ai_search": ["--files", "100000", "--e2e", "1000"],
    "walk_process": [],
}
QUICK = {
    "phase2": ["--rounds", "3"],
    "index": ["--files", "5000"],
    "mount": ["--files", "5000", "--read-mb", "50", "--stat-samples", "300", "--read-rounds", "3"],
    "mount_writes": ["--files", "2000", "--rounds", "10"],
    "mount_memory": ["--files", "5000", "--names", "1000"],
    "duplicates": ["--files", "5000", "--near", "5000"],
    "embed": ["--images", "16"],
    "search": ["--sizes", "10000", "--queries", "10"],
    "cli": ["--runs", "5"],
    "viewer": ["--files", "5000", "--samples", "10", "--thumbs", "300", "--browser-runs", "2"],
    "map": ["--points", "5000", "--server-points", "20000", "--client-max", "10000", "--rounds", "1"],
    "plots": ["--files", "5000", "--runs", "3"],
    "places": ["--points", "10000", "--rounds", "20"],
    "tags": ["--rounds", "5", "--queries", "10"],
    "ocr": ["--rounds", "1", "--files", "5000", "--queries", "10"],
    "faces": ["--images", "3"],
    "ai_search": ["--files", "10000", "--queries", "20", "--e2e", "50"],
    "walk_process": ["--sizes", "4000,20000", "--rounds", "2"],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", choices=[[], *FULL], metavar="NAME", help=f"any of {', '.join(FULL)}")
    ap.add_argument("--quick", action="store_true", help="small sizes")
    args = ap.parse_args()
    plan = QUICK if args.quick else FULL
    results: dict[str, object] = {}
    failed = False
    for name in args.names or list(plan):
        start = time.monotonic()
        proc = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py"), *plan[name]],
                              capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            failed = True
            results[name] = {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
        else:
            try:
                results[name] = json.loads(proc.stdout)
            except ValueError:
                results[name] = {"error": "no JSON output", "stdout": proc.stdout[-500:]}
                failed = True
        print(f"bench {name}: {time.monotonic() - start:.0f} s", file=sys.stderr)
    print(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
