"""Album operations through the mount while `gallerfs index` runs, against the same on an idle mount.

    .venv/bin/python bench/bench_mount_writes.py [--files 20000] [--rounds 100] [--workdir /var/tmp/gallerfs-bench-writes]

Prints one JSON object. A library of a few small photos is mounted; each
round makes an album (mkdir), copies a photo into it (cp), links another (ln),
removes the first (rm) and renames the album (mv), every operation timed on
its own. The rounds run once on the idle mount, then again while `gallerfs
index` works through --files freshly generated distinct JPEGs (its walk and
its phase 2 both take the write lock over and over). Figures: p50, p99 and max
latency in ms for each, their ratios (busy / idle), and how many operations
failed (the mount must never fail one: it waits for the lock, EBUSY only after
several seconds of a lock that is never released).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_mount import Mounted  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
GALLERFS = [sys.executable, "-m", "gallerfs"]


def tiny_jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, "JPEG")
    return out.getvalue()


def generate(folder: Path, count: int) -> None:
    stamp = folder / f".generated-{count}"
    if stamp.exists():
        return
    shutil.rmtree(folder, ignore_errors=True)
    jpeg = tiny_jpeg((30, 120, 200))
    for i in range(count):
        sub = folder / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"g{i:06d}.jpg").write_bytes(jpeg + b"%d" % i)  # distinct content
    stamp.touch()


def percentiles(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {"p50_ms": round(s[len(s) // 2], 2), "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2),
            "max_ms": round(s[-1], 2), "ops": len(s)}  # fmt: skip


def album_rounds(mnt: Path, rounds: int, tag: str) -> tuple[list[float], int]:
    """Timed album operations; (latencies in ms, failures)."""
    base = mnt / "sources" / "base"
    albums = mnt / "by-album"
    lat: list[float] = []
    failures = 0

    def timed(fn, *args: object) -> None:  # type: ignore[no-untyped-def]
        nonlocal failures
        t = time.perf_counter()
        try:
            fn(*args)
        except OSError as exc:
            failures += 1
            print(f"{fn.__name__}{args}: {exc}", file=sys.stderr)
        lat.append((time.perf_counter() - t) * 1000)

    for r in range(rounds):
        album = albums / f"{tag}{r}"
        timed(os.mkdir, album)
        timed(shutil.copyfile, base / f"p{r % 10}.jpg", album / f"p{r % 10}.jpg")
        timed(os.link, base / f"p{(r + 1) % 10}.jpg", album / f"p{(r + 1) % 10}.jpg")
        timed(os.unlink, album / f"p{r % 10}.jpg")
        timed(os.rename, album, albums / f"{tag}{r}-done")
    return lat, failures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--workdir", default="/var/tmp/gallerfs-bench-writes")
    args = ap.parse_args()
    work = Path(args.workdir)
    base, generated, library, mnt = work / "base", work / "generated", work / "library", work / "mnt"
    base.mkdir(parents=True, exist_ok=True)
    for i in range(10):
        (base / f"p{i}.jpg").write_bytes(tiny_jpeg((20 * i, 200 - 10 * i, 90)))
    generate(generated, args.files)
    shutil.rmtree(library, ignore_errors=True)  # the index below must start from nothing each run
    env = dict(os.environ, GALLERFS_LIBRARY=str(library), PYTHONPATH=str(PROJECT))
    env.pop("GALLERFS_CONFIG", None)
    run = lambda *a: subprocess.run([*GALLERFS, *a], env=env, check=True, capture_output=True)  # noqa: E731
    run("add", "--name", "base", str(base))
    run("index")
    result: dict[str, object] = {"benchmark": "mount_writes", "files": args.files, "rounds": args.rounds}
    with Mounted([*GALLERFS, "mount", "-f", str(mnt)], mnt, env):
        idle, idle_failed = album_rounds(mnt, args.rounds, "idle")
        run("add", "--name", "generated", str(generated))
        index = subprocess.Popen([*GALLERFS, "index"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while b"generated" not in os.listdir(os.fsencode(mnt / "sources")) and time.monotonic() < deadline:
                time.sleep(0.05)  # the walk has begun writing
            started = time.monotonic()
            busy, busy_failed = album_rounds(mnt, args.rounds, "busy")
            result["busy_phase_s"] = round(time.monotonic() - started, 2)
            result["index_still_running_at_end"] = index.poll() is None
        finally:
            if index.poll() is None:
                index.send_signal(signal.SIGINT)
            try:
                index.wait(timeout=60)
            except subprocess.TimeoutExpired:
                index.kill()
                index.wait()
    result["idle"] = percentiles(idle)
    result["while_indexing"] = percentiles(busy)
    result["failed_idle"], result["failed_while_indexing"] = idle_failed, busy_failed
    for key in ("p50_ms", "p99_ms", "max_ms"):
        i, b = result["idle"][key], result["while_indexing"][key]  # type: ignore[index]
        result[f"{key[:-3]}_busy_vs_idle"] = round(b / i, 2) if i else None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
