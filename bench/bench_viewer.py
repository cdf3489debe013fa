"""Benchmark the web viewer's server side; prints JSON.

Builds a library of N files (dates over ten years, five cameras, 30% with GPS,
an album) through the library's own write functions, with grid thumbnails for
the first ``--thumbs`` files, serves it with waitress exactly as
``gallerfs serve`` does, and times over real HTTP (keep-alive):

- each page and the grid's JSON at random offsets, p50/p95 in ms (the issue
  asks < 200 ms at 100k files);
- thumbnail throughput (4 concurrent clients) against a plain static file
  server (``http.server``) serving the same thumbnail files, as a ratio.

    python bench/bench_viewer.py [--files 100000] [--samples 40] [--thumbs 2000]
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from gallerfs import config  # noqa: E402
from gallerfs.db import albums as albums_db  # noqa: E402
from gallerfs.db import files as files_db  # noqa: E402
from gallerfs.db import sources as sources_db  # noqa: E402
from gallerfs.db.connection import Database  # noqa: E402
from gallerfs.paths import LibraryPaths  # noqa: E402
from gallerfs.indexer.thumbnails import thumbnail_path, write_thumbnails  # noqa: E402
from gallerfs.viewer import create_app  # noqa: E402

CAMERAS = [("Apple", "iPhone 12"), ("Canon", "EOS 5D"), ("Sony", "ILCE-7M3"), ("Google", "Pixel 7"), ("Nikon", "D750")]
TEN_YEARS = 10 * 365 * 86400
START = 1400000000.0
CLIENTS = 4


def build(root: Path, n: int, thumbs: int) -> tuple[LibraryPaths, float]:
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
    rng = np.random.default_rng(5)
    for fid in range(1, thumbs + 1):  # 256 px noise JPEGs, about a real thumbnail's size
        pixels = rng.integers(0, 255, (192, 256, 3), dtype=np.uint8)
        write_thumbnails({"grid": Image.fromarray(pixels)}, fid, paths.thumbnails, 85)
    return paths, time.perf_counter() - t0


class Server:
    def __init__(self, app) -> None:
        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.server = create_server(app, host="127.0.0.1", port=0, threads=8)
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
    """Files per second fetching urls with CLIENTS keep-alive connections."""
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=40, help="requests per page kind")
    ap.add_argument("--thumbs", type=int, default=2000)
    args = ap.parse_args()
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="gallerfs-bench-viewer-") as tmp:
        paths, build_s = build(Path(tmp) / "library", args.files, args.thumbs)
        app = create_app(paths, config.Settings())
        n = args.files
        offsets = [rng.randrange(0, max(1, n - 200)) for _ in range(args.samples)]
        ids = [rng.randrange(1, n + 1) for _ in range(args.samples)]
        kinds = {
            "library_page": ["/"],
            "library_page_filtered": ["/?camera=Canon&since=2016&until=2019", "/?has_gps=1", "/?album=Trip"],
            "grid_json_random_offset": [f"/api/grid?offset={o}&limit=200" for o in offsets],
            "grid_json_filtered_random_offset": [f"/api/grid?camera=Sony&offset={o // 5}&limit=200" for o in offsets],
            "photo_page": [f"/photo/{i}" for i in ids],
            "photo_page_filtered": [f"/photo/{i}?has_gps=1" for i in ids],
            "search_page_filters_only": ["/search?kind=image&since=2017"],
            "sources_page": ["/sources"],
            "jobs_page": ["/jobs"],
        }
        out: dict[str, object] = {"files": n, "build_s": round(build_s, 1)}
        with Server(app) as server:
            out["pages"] = {name: page_times(server.port, urls, args.samples) for name, urls in kinds.items()}
            thumb_ids = list(range(1, args.thumbs + 1))
            rng.shuffle(thumb_ids)
            viewer_rate = throughput(server.port, [f"/thumb/{i}/grid" for i in thumb_ids])
        with StaticServer(paths.thumbnails) as static:
            rel = [thumbnail_path(Path(""), i, "grid").as_posix() for i in thumb_ids]
            static_rate = throughput(static.port, [f"/{p}" for p in rel])
        out["thumbnails"] = {
            "count": args.thumbs, "clients": CLIENTS, "viewer_per_s": round(viewer_rate),
            "static_server_per_s": round(static_rate), "viewer_vs_static": round(viewer_rate / static_rate, 2),
        }  # fmt: skip
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
