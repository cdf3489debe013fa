"""Thumbnails and originals, served by library id only.

Thumbnails come from the cache the indexer writes (``indexer.thumbnails``);
their ETag is the file's content hash (its size and mtime before phase 2
ran), and a URL that carries the current key (``?v=KEY``) may be cached for a
year, since a changed file gets a new key and so a new URL. Originals are read
from the source and support HTTP Range requests (videos seek in the browser).
"""

from __future__ import annotations

import errno
import logging
import mimetypes
import os

from flask import Blueprint, Response, redirect, request, send_file, url_for

from gallerfs.db import viewer_queries as vq
from gallerfs.indexer.thumbnails import SIZE_NAMES, thumbnail_path
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer import desktop, fastthumbs, urlfilters
from gallerfs.viewer.library import library

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__)

OFFLINE_ERRNOS = {errno.ENOMEDIUM, errno.ENODEV, errno.ENXIO, errno.ENOTCONN, errno.ESTALE}  # what an unplugged drive gives


def _offline(source: str) -> ViewerError:
    return ViewerError(503, f"drive offline: the source {source!r} holding this original is not connected")


def has_thumbnail(file_id: int, size: str = "grid") -> bool:
    """Whether the cache holds this thumbnail (a page shows a placeholder instead of a failing image)."""
    return thumbnail_path(library().paths.thumbnails, file_id, size).is_file()


@bp.get("/thumb/<file_id>/<size>")
def thumbnail(file_id: str, size: str) -> Response:
    fid = parse_id(file_id)
    if size not in SIZE_NAMES:
        raise bad_request(f"thumbnail size must be one of {', '.join(SIZE_NAMES)}")
    key = vq.thumb_key(library().reader(), fid)
    if key is None:
        raise ViewerError(404, f"no file with id {fid} in the library")
    path = thumbnail_path(library().paths.thumbnails, fid, size)
    if not path.is_file():
        raise ViewerError(404, f"file {fid} has no {size} thumbnail yet (run 'gallerfs index')")
    # Most thumbnails are answered before Flask by viewer.fastthumbs, with the same headers; this
    # route answers the rest (Range requests, and every error with its message).
    response = send_file(path, mimetype="image/jpeg", conditional=True, etag=fastthumbs.etag_of(key, size),
                         last_modified=None)  # fmt: skip
    response.headers["Cache-Control"] = fastthumbs.cache_control(key, request.args.get("v"))
    return response


def _original(fid: int) -> tuple[dict, bytes]:
    """The original's row and path, or a 404 / 'drive offline' 503."""
    info = vq.original_info(library().reader(), fid)
    if info is None:
        raise ViewerError(404, f"no file with id {fid} in the library")
    if not info["online"]:
        raise _offline(info["source"])
    return info, bytes(info["root"]).rstrip(b"/") + b"/" + bytes(info["relpath"])


@bp.post("/photo/<file_id>/open")
def open_original(file_id: str) -> Response:
    """Open the original in the desktop's default application (xdg-open), then back to the photo."""
    fid = parse_id(file_id)
    _info, path = _original(fid)
    if not os.path.exists(path):
        raise ViewerError(404, f"the original of file {fid} is not where the library last saw it")
    action = request.form.get("action", "open")
    if action == "open":
        desktop.open_in_default_app(path)
    elif action == "reveal":
        desktop.reveal_in_folder(path)
    else:
        raise bad_request("action must be open or reveal")
    return redirect(url_for("pages.photo", file_id=fid) + urlfilters.query_string(urlfilters.parse(request.args)),
                    code=303)  # fmt: skip


@bp.get("/original/<file_id>")
def original(file_id: str) -> Response:
    fid = parse_id(file_id)
    info, path = _original(fid)
    name = bytes(info["name"]).decode("utf-8", "replace")  # for headers; the path keeps its raw bytes
    mime = info["mime"] or mimetypes.guess_type(name)[0] or "application/octet-stream"
    try:
        response = send_file(os.fsdecode(path), mimetype=mime, conditional=True, etag=f"o-{info['key']}",
                             download_name=name)  # fmt: skip
    except OSError as exc:
        if exc.errno in OFFLINE_ERRNOS:
            raise _offline(info["source"]) from None
        if exc.errno == errno.ENOENT:
            raise ViewerError(404, f"the original of file {fid} is not where the library last saw it (drive unplugged, "
                              "or moved: run 'gallerfs rescan')") from None  # fmt: skip
        raise ViewerError(500, f"cannot read the original of file {fid}: {os.strerror(exc.errno or errno.EIO)}") from None
    response.headers["Cache-Control"] = "private, no-cache"
    return response
