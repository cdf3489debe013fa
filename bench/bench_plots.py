"""Benchmark the clusters map and the dashboard at 100,000 photos; prints JSON.

Builds a library of N files (a deep folder tree, five cameras and lenses, dates over ten years)
through the library's own write functions, stores a synthetic 512-d CLIP-like vector per photo
(clustered, unit length) and runs the indexer's ``project`` stage. Then it times:

- the ``project`` stage: the first fit and placement of N vectors, and placing 1% new ones after;
- the points API (cold and warm) and its size per point;
- in headless Chromium (Debian's /usr/bin/chromium, no request leaves 127.0.0.1): the clusters
  page's first render (navigation to the drawn map, the issue asks < 3 s at 100k), a zoom frame,
  and a selection to the filtered grid (the grid page with a cluster filter, until its tiles are
  placed; < 500 ms asked), with the server's cold /api/grid answer for new selections;
- each dashboard query (p50 over runs, unfiltered and filtered; < 200 ms asked) and the whole
  dashboard's first render in the browser.

Ratios are against the grid's own ordering query (``ordered_ids``), measured in the same run.

    python bench/bench_plots.py [--files 100000] [--runs 5] [--no-browser]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs import config  # noqa: E402
from gallerfs.db import dashboard as dash_db  # noqa: E402
from gallerfs.db import embeddings as embeddings_db  # noqa: E402
from gallerfs.db import files as files_db  # noqa: E402
from gallerfs.db import projection as projection_db  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db import viewer_queries as vq  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.db.embeddings import EmbedTask  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.search import Filters  # noqa: E402
from gallerfs.search.region import Region  # noqa: E402
from gallerfs.indexer.projection import project_library  # noqa: E402
from gallerfs.viewer import create_app  # noqa: E402

CAMERAS = [("Apple", "iPhone 12"), ("Canon", "EOS 5D"), ("Sony", "ILCE-7M3"), ("Google", "Pixel 7"), ("Nikon", "D750")]
LENSES = ["24-70mm f/2.8", "50mm f/1.8", "iPhone back camera", "70-200mm f/4", None]
FORMATS = ["JPEG", "JPEG", "JPEG", "HEIF", "PNG"]
TEN_YEARS = 10 * 365 * 86400
START = 1400000000.0
DIM = 512
GROUPS = 12
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip


def relpath(i: int) -> bytes:
    """A tree about 5 levels deep with ~10,000 folders at 100k files."""
    year, month, day = 2014 + i % 10, 1 + (i // 10) % 12, 1 + (i // 120) % 28
    sub = "" if i % 3 else f"/burst{(i // 7) % 9}"
    return f"{year}/{month:02}/{day:02}{sub}/IMG_{i:07}.jpg".encode()


def build(root: Path, n: int) -> tuple[LibraryPaths, float]:
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    photos = root / "photos"
    photos.mkdir()
    t0 = time.perf_counter()
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(GROUPS, DIM)).astype(np.float32)
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="bench", path=os.fsencode(photos), mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=0, root_inode=0)  # fmt: skip
        embeddings_db.ensure_space(db, "synthetic-512", DIM)
        for start in range(0, n, 10_000):
            ids = range(start, min(n, start + 10_000))
            entries = [files_db.ScannedFile(relpath(i), "video" if i % 20 == 0 else "image", 500_000 + (i * 7919) % 9_000_000,
                                            10**18 + i, 10**18 + i, 0, i) for i in ids]  # fmt: skip
            with db.transaction():
                files_db.insert_new(db, source.id, entries)
                for i in ids:
                    fid = i + 1
                    make, model = CAMERAS[fid % len(CAMERAS)]
                    files_db.store_result(db, fid, metadata={
                        "sort_time": START + (fid * 7919 % TEN_YEARS), "make": make, "model": model,
                        "lens": LENSES[fid % len(LENSES)], "format": FORMATS[fid % len(FORMATS)],
                    }, content_hash=f"{fid:064x}", partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
            vectors = centres[[(i + 1) % GROUPS for i in ids]] + 0.35 * rng.normal(size=(len(ids), DIM)).astype(
                np.float32
            )
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = {r[0]: r[1:] for r in db.tuples(
                "SELECT id, source_id, relpath, size, mtime_ns FROM files WHERE id BETWEEN ? AND ?", (start + 1, ids[-1] + 1))}  # fmt: skip
            done = [(EmbedTask(i + 1, rows[i + 1][0], bytes(rows[i + 1][1]), b"/", rows[i + 1][2], rows[i + 1][3]), v)
                    for i, v in zip(ids, vectors)]  # fmt: skip
            with db.transaction():
                embeddings_db.store(db, done, [])
    return paths, time.perf_counter() - t0


def timed(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


class Server:
    def __init__(self, app) -> None:
        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.server = create_server(app, host="127.0.0.1", port=0, threads=8)
        self.port = int(self.server.effective_port)
        app.config["PORT"] = self.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.task_dispatcher.shutdown(timeout=10)
        self.server.close()


def http_ms(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        size = len(r.read())
    return round((time.perf_counter() - t0) * 1000, 1), size


def polygons(db: Database, count: int, seed: int) -> list[str]:
    """Boxes around different parts of the map (each seed gives new ones, so no cache has seen them)."""
    ids, xy = projection_db.points(db)
    fit = int(projection_db.current_fit_number(db) or 0)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        centre = xy[rng.integers(len(xy))]
        half = float(np.percentile(np.abs(xy - centre), 30))
        x0, x1, y0, y1 = centre[0] - half, centre[0] + half, centre[1] - half, centre[1] + half
        out.append(Region(fit, (x0, x1, x1, x0), (y0, y0, y1, y1)).text())
    return out


def dashboard_queries(db: Database, runs: int) -> dict[str, object]:
    out: dict[str, object] = {}
    views = {"all": Filters(), "camera_and_kind": Filters(camera="Canon", kind="image"), "since": Filters(since="2019"),
             "source": Filters(source="bench")}  # fmt: skip
    for view, filters in views.items():
        spec = filters.to_spec()
        out[view] = {name: timed(lambda f=fn, s=spec: f(db, s), runs) for name, fn in (
            ("totals", dash_db.totals), ("per_month", dash_db.per_month), ("cameras", dash_db.cameras),
            ("lenses", dash_db.lenses), ("file_types", dash_db.file_types), ("sources", dash_db.sources),
            ("folders", dash_db.folders),
        )}  # fmt: skip
    out["baseline_ordered_ids_ms"] = timed(lambda: vq.ordered_ids(db, Filters().to_spec()), runs)
    slowest = max(v for view in views for v in out[view].values())  # type: ignore[attr-defined]
    out["slowest_ms"] = slowest
    out["slowest_vs_baseline"] = round(slowest / max(out["baseline_ordered_ids_ms"], 0.1), 2)  # type: ignore[arg-type]
    return out


def browser(server: Server, regions: list[str], runs: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(Path(tempfile.gettempdir()) / "no-browsers")
    out: dict[str, object] = {}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = b.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("http://127.0.0.1:")
                       else (outside.append(r.request.url), r.abort()))  # fmt: skip
            renders = []
            for _ in range(runs):
                page.goto(server.url + "/clusters")
                page.wait_for_selector("#clusters[data-ready='1']", timeout=120_000)
                renders.append(page.evaluate("window.gallerfsClustersReady"))
            out["clusters_first_render_ms"] = round(renders[0])
            out["clusters_breakdown_ms"] = page.evaluate("""() => Object.fromEntries(
              ['clusters-start', 'clusters-points', 'clusters-plotted'].map(
                m => [m, Math.round(performance.getEntriesByName(m)[0].startTime)]))""")
            out["clusters_render_p50_ms"] = round(statistics.median(renders))
            out["clusters_points_drawn"] = int(page.get_attribute("#clusters", "data-drawn"))
            out["zoom_frame_ms"] = round(
                page.evaluate("""async () => {
              const el = document.getElementById('clusters'), r = el._fullLayout.xaxis.range.slice(), times = [];
              for (let k = 1; k <= 6; k++) {
                const t0 = performance.now(), w = (r[1] - r[0]) / (1 + k / 3);
                await Plotly.relayout(el, {'xaxis.range': [r[0], r[0] + w]});
                await new Promise(requestAnimationFrame);
                times.push(performance.now() - t0);
              }
              times.sort((a, b) => a - b);
              return times[Math.floor(times.length / 2)];
            }"""),
                1,
            )
            grid = []
            for region in regions:
                t0 = time.perf_counter()
                page.goto(server.url + "/?" + urllib.parse.urlencode({"cluster": region}))
                page.wait_for_selector("#grid .tile", timeout=60_000)
                grid.append((time.perf_counter() - t0) * 1000)
            out["selection_to_grid_ms_p50"] = round(statistics.median(grid))
            out["selection_to_grid_ms_max"] = round(max(grid))
            dash = []
            for _ in range(runs):
                page.goto(server.url + "/dashboard")
                page.wait_for_selector("#dashboard[data-ready='1']", timeout=120_000)
                dash.append(page.evaluate("window.gallerfsDashboardReady"))
            out["dashboard_render_first_ms"] = round(dash[0])
            out["dashboard_render_p50_ms"] = round(statistics.median(dash))
            out["sunburst_slices"] = page.locator("#dash-folders g.slice").count()
            out["outside_requests"] = len(outside)
        finally:
            b.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true", help="server-side figures only")
    args = ap.parse_args()
    n = args.files
    with tempfile.TemporaryDirectory(prefix="gallerfs-bench-plots-") as tmp:
        paths, build_s = build(Path(tmp) / "library", n)
        out: dict[str, object] = {"files": n, "dim": DIM, "build_s": round(build_s, 1)}
        with Database(paths.db) as db:
            extra = max(1, n // 100)  # 1% of the vectors dropped now, so they are new to the stage later
            t0 = time.perf_counter()
            db.execute("DELETE FROM embeddings WHERE file_id > ?", (n - extra,))
            first = project_library(db)
            out["project_first_s"] = round(time.perf_counter() - t0, 2)
        with Database(paths.db) as db:  # the same vectors again, as new ones: placed with the existing map
            rng = np.random.default_rng(3)
            rows = db.tuples("SELECT id, source_id, relpath, size, mtime_ns FROM files WHERE id > ?", (n - extra,))
            vectors = rng.normal(size=(len(rows), DIM)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            with db.transaction():
                embeddings_db.store(db, [(EmbedTask(r[0], r[1], bytes(r[2]), b"/", r[3], r[4]), v)
                                         for r, v in zip(rows, vectors)], [])  # fmt: skip
            t0 = time.perf_counter()
            later = project_library(db)
            out["project_incremental_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            out["project"] = {"first": first.as_dict(), "incremental": later.as_dict()}
        with Database(paths.db, readonly=True) as db:
            out["dashboard_queries_ms"] = dashboard_queries(db, args.runs)
            regions = polygons(db, 5, seed=11)
            fresh = polygons(db, 5, seed=23)
            spec = Filters(cluster=regions[0]).to_spec()
            out["selection_ids_query_ms"] = timed(lambda: vq.ordered_ids(db, spec), args.runs)
        app = create_app(paths, config.Settings())
        with Server(app) as server:
            cold, size = http_ms(server.url + "/api/clusters/points")
            warm, _ = http_ms(server.url + "/api/clusters/points")
            out["points_api"] = {"cold_ms": cold, "warm_ms": warm, "bytes": size, "bytes_per_point": round(size / n, 2)}
            out["grid_api_new_selection_ms"] = [http_ms(server.url + "/api/grid?limit=200&" + urllib.parse.urlencode(
                {"cluster": r}))[0] for r in regions]  # fmt: skip
            out["dashboard_api_cold_ms"] = http_ms(server.url + "/api/dashboard")[0]
            out["dashboard_api_filtered_cold_ms"] = http_ms(server.url + "/api/dashboard?camera=Sony&since=2017")[0]
            if not args.no_browser and os.path.exists(CHROMIUM):
                out["browser"] = browser(server, fresh, max(2, args.runs // 2))
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
