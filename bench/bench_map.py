"""Benchmark the viewer's map in headless Chromium (Debian's /usr/bin/chromium, no request leaves
127.0.0.1); prints JSON.

Builds two temporary libraries of geotagged files (through the library's own write functions):
``--points`` positions (clustered in the browser by supercluster in a Web Worker) and
``--server-points`` (clustered by the server per view and zoom), spread like real photo libraries
(a few hundred places with many photos each, and a scatter over the land). Serves each with waitress
as ``gallerfs serve`` does and measures, ``--rounds`` times (median kept):

- ``first_render_ms``: navigation start to the first clusters drawn on the map (the issue asks
  < 2 s at 100,000 points, and < 4 s at 1,000,000 with server clustering); the first round also
  pays for reading the positions from SQLite (``cold``), later rounds find them cached. In the
  browser's mode the first view is the server's clusters, drawn while the worker indexes;
  ``worker_clusters_ms`` is when the worker's own clusters replace them;
- ``pan_frame_ms``: the mean frame interval while the map pans (requestAnimationFrame), and
  ``zoom_redraw_ms``: a zoom step to its clusters redrawn;
- ``area_to_grid_ms``: a rectangle drawn on the map (mouse up) to the library grid showing the
  photos inside it (asks < 500 ms);
- as a baseline from the same run, ``grid_first_render_ms``: navigation start to the first
  tiles of the library grid of the same library, and each first render as a ratio to it.

    python bench/bench_map.py [--points 100000] [--server-points 1000000] [--rounds 3]
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gallerfs import config  # noqa: E402
from gallerfs.paths import resolve_library  # noqa: E402
from gallerfs.viewer import create_app  # noqa: E402
from tests.map_support import build_gps_library  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PLACES = 400
AREA = (47.9, 11.2, 48.4, 11.9)  # south, west, north, east: round one of the places (Munich)


def positions(n: int, seed: int = 7) -> list[tuple[float, float]]:
    """Places with many photos each (70%), holiday scatter round them (20%), and the world (10%)."""
    rng = np.random.default_rng(seed)
    centres = np.c_[rng.uniform(-45, 65, PLACES), rng.uniform(-130, 150, PLACES)]
    centres[0] = (48.14, 11.58)
    weight = rng.pareto(1.2, PLACES) + 1
    pick = rng.choice(PLACES, n, p=weight / weight.sum())
    spread = np.where(rng.random(n) < 0.78, 0.03, 0.6)[:, None]
    pts = centres[pick] + rng.normal(0, 1, (n, 2)) * spread
    world = rng.random(n) < 0.1
    pts[world] = np.c_[rng.uniform(-60, 70, world.sum()), rng.uniform(-180, 180, world.sum())]
    pts[:, 0] = np.clip(pts[:, 0], -85, 85)
    pts[:, 1] = (pts[:, 1] + 180) % 360 - 180
    return [(float(a), float(b)) for a, b in pts]


class Server:
    def __init__(self, library: Path, client_max: int) -> None:
        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        paths = resolve_library(library)
        self.app = create_app(paths, config.load(paths.config_file), {"MAP_CLIENT_MAX_POINTS": client_max})
        self.server = create_server(self.app, host="127.0.0.1", port=0, threads=8)
        self.port = int(self.server.effective_port)
        self.app.config["PORT"] = self.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.task_dispatcher.shutdown(timeout=10)
        self.server.close()


def since_navigation(page, expression: str, timeout_ms: int = 120_000) -> float:
    """Milliseconds from the navigation's start until ``expression`` is true (polled every frame)."""
    page.wait_for_function(expression, timeout=timeout_ms, polling="raf")
    return float(page.evaluate("() => performance.now()"))


def first_render(page, url: str) -> float:
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    return since_navigation(
        page, "() => { const m = document.getElementById('map'); return m && +m.dataset.rendered >= 1; }"
    )


def grid_render(page, url: str) -> float:
    page.goto("about:blank")
    page.goto(url, wait_until="commit")
    return since_navigation(page, "() => document.querySelectorAll('#grid .tile').length > 0")


def pan_and_zoom(page) -> tuple[float, float]:
    frame = page.evaluate("""async () => {
        const times = [];
        let on = true;
        const tick = (t) => { times.push(t); if (on) requestAnimationFrame(tick); };
        requestAnimationFrame(tick);
        for (let i = 0; i < 6; i++) {
            gallerfsMap.panBy([i % 2 ? -300 : 300, 120], {duration: 0.25});
            await new Promise((r) => setTimeout(r, 300));
        }
        on = false;
        const gaps = times.slice(1).map((t, i) => t - times[i]);
        return gaps.reduce((a, b) => a + b, 0) / gaps.length;
    }""")
    zooms = []
    for step in (1, 1, -1, 1):
        zooms.append(
            page.evaluate(
                """async (step) => {
            const el = document.getElementById('map');
            const before = +el.dataset.rendered;
            const t0 = performance.now();
            gallerfsMap.setZoom(gallerfsMap.getZoom() + step, {animate: false});
            while (+el.dataset.rendered === before) await new Promise((r) => requestAnimationFrame(r));
            return performance.now() - t0;
        }""",
                step,
            )
        )
    return float(frame), float(statistics.median(zooms))


def area_to_grid(page, url: str) -> float:
    page.goto(url)
    page.wait_for_function("() => +document.getElementById('map').dataset.rendered >= 1")
    s, w, n, e = AREA
    page.evaluate(
        f"() => {{ gallerfsMap.fitBounds([[{s}, {w}], [{n}, {e}]], {{padding: [80, 80], animate: false}}); }}"
    )
    page.wait_for_timeout(300)
    corners = page.evaluate(
        f"() => [gallerfsMap.latLngToContainerPoint([{n}, {w}]), gallerfsMap.latLngToContainerPoint([{s}, {e}])]"
    )
    box = page.locator("#map").bounding_box()
    page.click("button[data-draw=rectangle]")
    page.mouse.move(box["x"] + corners[0]["x"], box["y"] + corners[0]["y"])
    page.mouse.down()
    page.mouse.move(box["x"] + corners[1]["x"], box["y"] + corners[1]["y"], steps=5)
    t0 = time.perf_counter()
    page.mouse.up()
    page.wait_for_selector("#area-bar:not([hidden])[data-count]")
    with page.expect_navigation():
        page.click("#area-bar .grid-link")
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length > 0", polling="raf")
    return (time.perf_counter() - t0) * 1000


def measure(library: Path, client_max: int, rounds: int, with_area: bool) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    out: dict[str, object] = {}
    with Server(library, client_max) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            outside: list[str] = []
            errors: list[str] = []

            def route(r) -> None:
                if r.request.url.startswith("http://127.0.0.1:") or r.request.url.startswith("data:"):
                    r.continue_()
                else:
                    outside.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda e: errors.append(str(e)))
            renders = [first_render(page, server.url + "/map") for _ in range(rounds)]
            out["mode"] = page.get_attribute("#map", "data-mode")
            out["points"] = int(page.get_attribute("#map", "data-count") or 0)
            out["first_render_cold_ms"] = round(renders[0], 1)
            out["first_render_ms"] = round(statistics.median(renders[1:] or renders), 1)
            if out["mode"] == "client":  # the worker's own clusters replace the server's first ones
                out["worker_clusters_ms"] = round(since_navigation(page, "() => document.getElementById('map')"
                                                                   ".dataset.indexed === '1'"), 1)  # fmt: skip
            frame, zoom = pan_and_zoom(page)
            out["pan_frame_ms"] = round(frame, 2)
            out["zoom_redraw_ms"] = round(zoom, 1)
            heat_t0 = time.perf_counter()
            page.check("#heat-toggle")
            page.wait_for_selector("canvas.leaflet-heatmap-layer")
            out["heatmap_on_ms"] = round((time.perf_counter() - heat_t0) * 1000, 1)
            grids = [grid_render(page, server.url + "/") for _ in range(rounds)]
            out["grid_first_render_ms"] = round(statistics.median(grids), 1)
            out["first_render_vs_grid"] = round(out["first_render_ms"] / out["grid_first_render_ms"], 2)  # type: ignore[operator]
            if with_area:
                out["area_to_grid_ms"] = round(statistics.median(area_to_grid(page, server.url + "/map")
                                                                 for _ in range(rounds)), 1)  # fmt: skip
            page.goto("about:blank")
            if outside or errors:
                out["problems"] = {"outside": outside[:5], "errors": errors[:5]}
        finally:
            browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000, help="positions clustered in the browser")
    ap.add_argument("--server-points", type=int, default=1_000_000, help="positions clustered by the server")
    ap.add_argument("--client-max", type=int, default=300_000, help="the viewer's threshold for server clustering")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print(json.dumps({"skipped": f"needs {CHROMIUM}"}))
        return 0
    if args.points > args.client_max or args.server_points <= args.client_max:
        ap.error("--points must be at most --client-max, and --server-points above it")
    result: dict[str, object] = {"targets_ms": {"client_first_render": 2000, "server_first_render": 4000,
                                                "area_to_grid": 500}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-map-") as tmp, tempfile.TemporaryDirectory() as browsers:
        os.environ["PLAYWRIGHT_BROWSERS_PATH"] = browsers  # never fetch a bundled browser
        for name, n, area in (("client", args.points, True), ("server", args.server_points, True)):
            t0 = time.perf_counter()
            library = build_gps_library(Path(tmp) / name, positions(n), thumbs=200)
            built = time.perf_counter() - t0
            figures = measure(library, args.client_max, args.rounds, area)
            figures["library_build_s"] = round(built, 1)
            result[name] = figures
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
