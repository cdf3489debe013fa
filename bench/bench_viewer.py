"""Benchmark the web viewer; prints JSON.

Builds a library of N files (dates over ten years, five cameras, 30% with GPS,
an album) through the library's own write functions, with grid thumbnails for
the newest ``--thumbs`` files (the top of the grid), serves it with waitress
exactly as ``gallerfs serve`` does, and measures:

- server time per page and the grid's JSON at random offsets, over real HTTP
  (keep-alive), p50/p95 in ms (the issue asks < 200 ms at 100k files);
- thumbnail throughput (4 keep-alive clients in another process, as a browser
  is) against a plain static file server (``http.server``) serving the same
  files in the same run, as a ratio; also through the Flask route alone
  (``flask_route_*``: what the viewer did before ``viewer.fastthumbs``);
- in headless Chromium (Debian's /usr/bin/chromium through Playwright; every
  request not to 127.0.0.1 is blocked and counted): time from navigation until
  every tile in the viewport shows its decoded thumbnail (cold cache, month
  timeline and flat grid), and frame times over a scripted scroll (one scroll
  step per requestAnimationFrame, performance.now() between frames) at two
  speeds, with the tiles left in the page at the end.

    python bench/bench_viewer.py [--files 100000] [--samples 40] [--thumbs 2000] [--no-browser]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import logging
import os
import random
import socket
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import subprocess

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from gallerfs import config  # noqa: E402
from gallerfs.db import albums as albums_db  # noqa: E402
from gallerfs.db import files as files_db  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db import viewer_queries as vq  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.db.search import FilterSpec  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.indexer.thumbnails import thumbnail_path, write_thumbnails  # noqa: E402
from gallerfs.viewer import create_app  # noqa: E402
from gallerfs.viewer.server import THREADS, tune_process  # noqa: E402

CAMERAS = [("Apple", "iPhone 12"), ("Canon", "EOS 5D"), ("Sony", "ILCE-7M3"), ("Google", "Pixel 7"), ("Nikon", "D750")]
TEN_YEARS = 10 * 365 * 86400
START = 1400000000.0
CLIENTS = 4


def build(root: Path, n: int, thumbs: int) -> tuple[LibraryPaths, list[int], float]:
    paths = LibraryPaths(root=root, config_file=root / "config.toml")
    paths.ensure()
    photos = root / "photos"
    photos.mkdir()
    t0 = time.perf_counter()
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="bench", path=os.fsencode(photos), mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=0, root_inode=0)  # fmt: skip
        for start in range(0, n, 20_000):
            ids = range(start, min(n, start + 20_000))
            entries = [files_db.ScannedFile(f"d{i // 1000:04}/IMG_{i:07}.jpg".encode(), "image", 1_000_000 + i,
                                            10**18 + i, 10**18 + i, 0, i) for i in ids]  # fmt: skip
            with db.transaction():
                files_db.insert_new(db, source.id, entries)
                for i in ids:
                    fid = i + 1
                    make, model = CAMERAS[fid % len(CAMERAS)]
                    gps = fid % 10 < 3
                    files_db.store_result(db, fid, metadata={
                        "sort_time": START + (fid * 7919 % TEN_YEARS), "make": make, "model": model,
                        "latitude": 48.0 if gps else None, "longitude": 11.0 if gps else None,
                    }, content_hash=f"{fid:064x}", partial_hash=None, phash=None, dhash=None, error=None)  # fmt: skip
        albums_db.create_album(db, "Trip")
        albums_db.add_to_album(db, "Trip", range(1, n + 1, max(1, n // 500)))
    with Database(paths.db) as db:
        newest = vq.ordered_ids(db, FilterSpec())[:thumbs]  # the top of the grid
    rng = np.random.default_rng(5)
    for fid in newest:  # 256 px noise JPEGs, about a real thumbnail's size
        pixels = rng.integers(0, 255, (192, 256, 3), dtype=np.uint8)
        write_thumbnails({"grid": Image.fromarray(pixels)}, fid, paths.thumbnails, 85)
    return paths, newest, time.perf_counter() - t0


class Server:
    def __init__(self, app) -> None:
        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        tune_process()  # as 'gallerfs serve' does
        self.server = create_server(app, host="127.0.0.1", port=0, threads=THREADS, clear_untrusted_proxy_headers=True)
        self.port = int(self.server.effective_port)  # waitress gives it as text
        app.config["PORT"] = self.port
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.task_dispatcher.shutdown(timeout=10)  # let request threads finish before the sockets close
        self.server.close()


class StaticServer:
    """The baseline: Python's own static file server over the thumbnail folder, HTTP/1.1 keep-alive."""

    def __init__(self, folder: Path) -> None:
        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # headers and body are separate writes: without this, Nagle stalls each reply
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(folder)))
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> StaticServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fetch(conn: http.client.HTTPConnection, path: str, port: int) -> tuple[int, int]:
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
    response = conn.getresponse()
    body = response.read()
    return response.status, len(body)


def page_times(port: int, paths: list[str], samples: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    fetch(conn, paths[0], port)  # warm
    times = []
    for i in range(samples):
        path = paths[i % len(paths)]
        t = time.perf_counter()
        status, _ = fetch(conn, path, port)
        times.append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}")
    conn.close()
    arr = np.array(times)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 1), "p95_ms": round(float(np.percentile(arr, 95)), 1)}


def throughput(port: int, urls: list[str]) -> float:
    """Files per second fetching urls with CLIENTS keep-alive connections, from another process (as a
    browser is: clients in the server's process would share its interpreter lock)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(urls, f)
        f.flush()
        proc = subprocess.run([sys.executable, __file__, "--load", str(port), f.name], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "load generator failed")
    return float(proc.stdout)


def _load(port: int, urls: list[str]) -> float:
    chunks = [urls[i::CLIENTS] for i in range(CLIENTS)]
    errors: list[str] = []

    def worker(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for url in chunk:
            status, size = fetch(conn, url, port)
            if status != 200 or size == 0:
                errors.append(f"{url}: {status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t
    if errors:
        raise SystemExit(f"thumbnail fetch failed: {errors[:3]}")
    return len(urls) / elapsed


SCROLL_FRAMES = 240  # 4 s at 60 frames a second
SCROLL_SPEEDS = {"scroll_900px_per_frame": 900, "scroll_9000px_per_frame": 9000}  # a fling; dragging the scrollbar
FIRST_SCREEN = 12  # at least two rows of thumbnails at 1280x900
# The first screenful is shown: every tile in the viewport has its thumbnail decoded (and there are enough).
SCREEN_SHOWN = """(n) => {
    const seen = [...document.querySelectorAll('#grid .tile')].filter((t) => {
        const r = t.getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight;
    });
    return seen.length >= n && seen.every((t) => { const i = t.querySelector('img'); return i && i.complete && i.naturalWidth > 0; });
}"""


def _frames(page, step: int) -> dict[str, float]:
    """Frame times (ms) while the page scrolls ``step`` px per animation frame, and the longest tasks."""
    times = page.evaluate(
        """async ([frames, step]) => {
            const out = [];
            let last = performance.now();
            await new Promise((done) => {
                let n = 0;
                function frame(now) {
                    out.push(now - last);
                    last = now;
                    if (++n >= frames || window.scrollY + innerHeight >= document.body.scrollHeight) return done();
                    window.scrollBy(0, step);
                    requestAnimationFrame(frame);
                }
                requestAnimationFrame(frame);
            });
            return out.slice(1);
        }""",
        [SCROLL_FRAMES, step],
    )
    arr = np.array(times)
    return {
        "frames": len(times), "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1), "max_ms": round(float(arr.max()), 1),
        "over_50ms": int((arr > 50).sum()), "tiles_in_dom": page.locator("#grid .tile").count(),
    }  # fmt: skip


def browser_figures(url: str, runs: int) -> dict[str, object]:
    """Time to the first screenful of thumbnails (cold cache) and frame times over scripted scrolls."""
    from playwright.sync_api import sync_playwright

    from tests.browser_fixtures import ARGS, CHROMIUM

    if not os.path.exists(CHROMIUM):
        return {"skipped": f"no {CHROMIUM}"}
    outside: list[str] = []
    errors: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith("http://127.0.0.1:") or r.request.url.startswith("data:"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as empty:
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = empty  # never look for (or fetch) a bundled browser
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                for name, path in (("first_thumbnails_timeline", "/"), ("first_thumbnails_flat", "/?group=none")):
                    times = []
                    for _ in range(runs):
                        context = browser.new_context(viewport={"width": 1280, "height": 900})  # a cold cache
                        page = context.new_page()
                        page.route("**/*", route)
                        page.on("pageerror", lambda e: errors.append(str(e)))
                        page.goto(url + path, wait_until="commit")
                        page.wait_for_function(SCREEN_SHOWN, arg=FIRST_SCREEN, polling="raf", timeout=60_000)
                        times.append(page.evaluate("performance.now()"))  # since navigation started
                        context.close()
                    arr = np.array(times)
                    out[name] = {"runs": runs, "p50_ms": round(float(np.percentile(arr, 50))),
                                 "max_ms": round(float(arr.max()))}  # fmt: skip
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.route("**/*", route)
                page.on("pageerror", lambda e: errors.append(str(e)))
                for group in ("month", "day"):
                    for name, step in SCROLL_SPEEDS.items():
                        page.goto(f"{url}/?group={group}")
                        page.wait_for_selector("#grid .tile")
                        out[f"{name}_{group}"] = _frames(page, step)
                context.close()
            finally:
                browser.close()
    out["page_errors"] = errors
    out["requests_blocked_outside_127.0.0.1"] = len(outside)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=40, help="requests per page kind")
    ap.add_argument("--thumbs", type=int, default=2000)
    ap.add_argument("--browser-runs", type=int, default=5, help="cold page loads timed in Chromium")
    ap.add_argument("--no-browser", action="store_true", help="leave out the Chromium figures")
    ap.add_argument("--load", nargs=2, metavar=("PORT", "URLS_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        print(_load(int(args.load[0]), json.loads(Path(args.load[1]).read_text())))
        return 0
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="gallerfs-bench-viewer-") as tmp:
        paths, newest, build_s = build(Path(tmp) / "library", args.files, args.thumbs)
        app = create_app(paths, config.Settings())
        n = args.files
        offsets = [rng.randrange(0, max(1, n - 200)) for _ in range(args.samples)]
        ids = [rng.randrange(1, n + 1) for _ in range(args.samples)]
        kinds = {
            "library_page": ["/"],
            "library_page_filtered": ["/?camera=Canon&since=2016&until=2019", "/?has_gps=1", "/?album=Trip"],
            "library_page_offline_only": ["/?online=0"],
            "grid_json_random_offset": [f"/api/grid?offset={o}&limit=200" for o in offsets],
            "grid_json_filtered_random_offset": [f"/api/grid?camera=Sony&offset={o // 5}&limit=200" for o in offsets],
            "timeline_months_json": ["/api/groups?by=month"],
            "timeline_days_json": ["/api/groups?by=day"],
            "timeline_days_json_filtered": ["/api/groups?by=day&camera=Nikon", "/api/groups?by=day&has_gps=1"],
            "photo_page": [f"/photo/{i}" for i in ids],
            "photo_page_filtered": [f"/photo/{i}?has_gps=1" for i in ids],
            "search_page_filters_only": ["/search?kind=image&since=2017"],
            "albums_page": ["/albums"],
            "sources_page": ["/sources"],
            "jobs_page": ["/jobs"],
        }
        out: dict[str, object] = {"files": n, "build_s": round(build_s, 1)}
        thumb_ids = list(newest)
        rng.shuffle(thumb_ids)
        thumb_urls = [f"/thumb/{i}/grid" for i in thumb_ids]
        with Server(app) as server:
            out["pages"] = {name: page_times(server.port, urls, args.samples) for name, urls in kinds.items()}
            viewer_rate = throughput(server.port, thumb_urls)
            fast = app.wsgi_app
            app.wsgi_app = fast.app  # type: ignore[attr-defined,method-assign]  # the Flask route alone
            flask_rate = throughput(server.port, thumb_urls)
            app.wsgi_app = fast  # type: ignore[method-assign]
            if not args.no_browser:
                out["browser"] = browser_figures(f"http://127.0.0.1:{server.port}", args.browser_runs)
        with StaticServer(paths.thumbnails) as static:
            rel = [thumbnail_path(Path(""), i, "grid").as_posix() for i in thumb_ids]
            static_rate = throughput(static.port, [f"/{p}" for p in rel])
        out["thumbnails"] = {
            "count": len(thumb_urls), "clients": CLIENTS, "server_threads": THREADS,
            "viewer_per_s": round(viewer_rate), "static_server_per_s": round(static_rate),
            "viewer_vs_static": round(viewer_rate / static_rate, 2),
            "flask_route_per_s": round(flask_rate), "flask_route_vs_static": round(flask_rate / static_rate, 2),
        }  # fmt: skip
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
