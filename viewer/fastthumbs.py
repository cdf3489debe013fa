"""Thumbnails without Flask in the way: a WSGI layer in front of the app that answers a well-formed
``GET /thumb/ID/SIZE`` for a file that has one, with the same headers, ETag and caching as the
Flask route (``media.thumbnail``), and passes every other request, and every thumbnail request it
cannot answer (unknown id, missing thumbnail, foreign Host, Range), to the app, whose route gives
the error page.

A grid of 100,000 photos asks for thumbnails by the hundred as it scrolls; through Flask each cost
about 1 ms of Python (request and response objects, routing, ``send_file``'s conditional handling)
on top of the server's own work, where the answer is one indexed lookup and a small file read.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable, Iterable

from gallerfs.db import viewer_queries as vq
from gallerfs.indexer.thumbnails import SIZE_NAMES, thumbnail_path
from gallerfs.viewer import security
from gallerfs.viewer.library import Library

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_PATH = re.compile(r"^/thumb/([1-9][0-9]{0,17})/(" + "|".join(SIZE_NAMES) + r")$")
_V = re.compile(r"(?:^|&)v=([^&]*)")
YEAR_S = 365 * 24 * 3600


def etag_of(key: str, size: str) -> str:
    return f"{key}-{size}"


def cache_control(key: str, given: str | None) -> str:
    """A URL carrying the current key (``?v=KEY``) never changes content: cache it for a year."""
    return f"private, max-age={YEAR_S}, immutable" if given == key else "private, no-cache"


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


class FastThumbnails:
    def __init__(self, app: WSGIApp, lib: Library, port: Callable[[], int | None]) -> None:
        self.app = app
        self.lib = lib
        self.port = port

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        m = _PATH.match(environ.get("PATH_INFO", ""))
        if m is None or environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_RANGE" in environ:
            return self.app(environ, start_response)
        if not security.host_allowed(environ.get("HTTP_HOST", ""), self.port()):
            return self.app(environ, start_response)  # the app refuses it, with its page
        fid, size = int(m[1]), m[2]
        try:
            key = vq.thumb_key(self.lib.reader(), fid)
            if key is None:
                return self.app(environ, start_response)
            etag = etag_of(key, size)
            v = _V.search(environ.get("QUERY_STRING", ""))
            headers = [("ETag", f'"{etag}"'), ("Cache-Control", cache_control(key, v[1] if v else None)),
                       *security.HEADERS.items()]  # fmt: skip
            if _matches(environ.get("HTTP_IF_NONE_MATCH", ""), etag):
                start_response("304 Not Modified", headers)
                return [b""]
            with open(thumbnail_path(self.lib.paths.thumbnails, fid, size), "rb") as f:
                body = f.read()
        except OSError:  # no thumbnail yet (or unreadable): the app says so
            return self.app(environ, start_response)
        except Exception:  # a busy or missing library: the app's error page explains it
            log.debug("thumbnail %s/%s left to the app", fid, size, exc_info=True)
            return self.app(environ, start_response)
        headers += [("Content-Type", "image/jpeg"), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [b"" if environ["REQUEST_METHOD"] == "HEAD" else body]
