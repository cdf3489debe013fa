"""Running the viewer: waitress on 127.0.0.1 only, optionally opening the browser."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading

from flask import Flask

from gallerfs.errors import GallerfsError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
THREADS = 8  # thumbnails load in parallel; a few long-lived event streams must not starve them
# waitress hands each request from its socket loop to a worker thread and the reply back: with
# Python's default 5 ms switch interval a busy worker (or a rescan running in this process) holds the
# interpreter lock while the loop waits to send. At 0.5 ms the viewer served ~30% more thumbnails a
# second (bench/bench_viewer.py) and stays responsive while it rescans.
SWITCH_INTERVAL_S = 0.0005


def tune_process() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def open_browser(url: str) -> None:
    """xdg-open the URL once the server is listening (best effort: says why when it cannot)."""
    opener = shutil.which("xdg-open")
    if opener is None:
        log.warning("--open: xdg-open is not installed; open %s yourself", url)
        return

    def run() -> None:
        try:
            subprocess.run([opener, url], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("--open: could not start the browser: %s", exc)

    threading.Timer(0.5, run).start()


def serve(app: Flask, port: int, *, open_url: bool = False) -> None:
    """Serve until interrupted. Raises GallerfsError when the port cannot be bound."""
    from waitress.server import create_server

    app.config["PORT"] = port
    tune_process()
    # A page of lazy thumbnails briefly queues requests behind the threads: normal, not worth a warning.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        server = create_server(app, host=HOST, port=port, threads=THREADS, ident="gallerfs", clear_untrusted_proxy_headers=True)
    except OSError as exc:
        raise GallerfsError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    url = f"http://{HOST}:{port}/"
    print(f"gallerfs: serving the library at {url} (Ctrl+C stops)", flush=True)
    if open_url:
        open_browser(url)
    try:
        server.run()  # returns on Ctrl+C (waitress takes the KeyboardInterrupt): how a user stops it
    finally:
        server.close()
    print("gallerfs: viewer stopped", flush=True)
