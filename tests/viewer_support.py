"""Helpers for the viewer's tests: a corpus library, an app on it, and a real server on a free port."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Iterator

from flask import Flask

from gallerfs import config
from gallerfs.paths import resolve_library
from viewer import create_app

HOST = {"Host": "127.0.0.1:8765"}


def make_app(library: Path, **test_config: object) -> Flask:
    paths = resolve_library(library)
    return create_app(paths, config.load(paths.config_file), {"PORT": 8765, **test_config})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The viewer served by waitress on 127.0.0.1 in a thread, as 'gallerfs serve' runs it."""

    def __init__(self, library: Path) -> None:
        from waitress.server import create_server

        self.port = free_port()
        self.app = make_app(library, PORT=self.port, SSE_MAX_S=10.0)
        self.server = create_server(self.app, host="127.0.0.1", port=self.port, threads=4)
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, name="viewer-test-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.thread.join(timeout=10)


def iter_links(html: str) -> Iterator[str]:
    import re

    yield from re.findall(r'(?:href|src)="([^"]+)"', html)
