"""Helpers for the viewer's tests: a corpus library, an app on it, and a real server on a free port."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Iterator

from flask import Flask

from gallerfs import config
from gallerfs.paths import resolve_library
from gallerfs.viewer import create_app

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
        import logging

        from waitress.server import create_server

        logging.getLogger("waitress.queue").setLevel(logging.ERROR)

        self.port = free_port()
        self.app = make_app(library, PORT=self.port, SSE_MAX_S=10.0)
        self.server = create_server(self.app, host="127.0.0.1", port=self.port, threads=4)
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="viewer-test-server", daemon=True)

    def _serve(self) -> None:
        # waitress's own run() loops until its sockets are closed under it, which a select() in progress
        # can meet as EBADF: loop in short steps instead, and close only once the loop has stopped.
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.05, map=self.server._map, count=1)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.task_dispatcher.shutdown(timeout=10)  # let request threads finish (the loop sends their replies)
        self._stopping.set()
        self.thread.join(timeout=10)
        self.server.close()


def iter_links(html: str) -> Iterator[str]:
    import re

    yield from re.findall(r'(?:href|src)="([^"]+)"', html)


START_S = 1_300_000_000  # 2011-03-13
STEP_S = 3000  # 100,000 files span about ten years


def build_large_library(root: Path, n: int, thumbs_at_ends: int = 60) -> Path:
    """A library of n files without running the indexer (through the library's own write functions):
    file i is newer than file i-1 (by STEP_S seconds, from START_S), and the newest and oldest
    ``thumbs_at_ends`` have grid thumbnails."""
    import os

    from PIL import Image

    from gallerfs.db import files as files_db
    from gallerfs.db import sources as sources_db
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths
    from gallerfs.indexer.thumbnails import write_thumbnails

    paths = LibraryPaths(root=root / "library", config_file=root / "library" / "config.toml")
    paths.ensure()
    photos = root / "photos"
    photos.mkdir()
    with Database(paths.db) as db:
        source = sources_db.add_source(db, name="big", path=os.fsencode(photos), mount_point=b"/", fs_uuid=None,
                                       fs_type=None, device=0, root_inode=0)  # fmt: skip
        for start in range(0, n, 20_000):
            entries = [
                files_db.ScannedFile(f"d{i // 1000:04}/IMG_{i:07}.jpg".encode(), "image", 100_000 + i,
                                     (START_S + i * STEP_S) * 10**9, (START_S + i * STEP_S) * 10**9, 0, i)  # fmt: skip
                for i in range(start, min(n, start + 20_000))
            ]
            with db.transaction():
                files_db.insert_new(db, source.id, entries)
    for fid in [*range(1, thumbs_at_ends + 1), *range(n - thumbs_at_ends + 1, n + 1)]:
        colour = ((fid * 37) % 256, (fid * 91) % 256, (fid * 53) % 256)
        write_thumbnails({"grid": Image.new("RGB", (64, 64), colour)}, fid, paths.thumbnails, 80)
    return paths.root
