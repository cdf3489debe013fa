"""JSON endpoints behind the pages' scripts, and the jobs' Server-Sent Events stream."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Callable, Iterator

from flask import Blueprint, Response, current_app, jsonify, request

from gallerfs.db import viewer_queries as vq
from gallerfs.viewer import jobs_view, timeline, urlfilters
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id, parse_int
from gallerfs.viewer.library import library
from gallerfs.viewer.media import has_thumbnail
from gallerfs.viewer.pages import set_favourite

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)

MAX_PAGE = 1000  # items per grid request
MAX_OFFSET = 100_000_000
SSE_INTERVAL_S = 1.0
SSE_MAX_S = 300.0  # a stream ends after this long; the browser reconnects (EventSource does so itself)
MAX_STREAMS = 3  # each open stream holds a server thread: the rest must stay free for thumbnails


class _Once:
    def __init__(self, func: Callable[[], object]) -> None:
        self.func: Callable[[], object] | None = func

    def __call__(self) -> None:
        func, self.func = self.func, None
        if func is not None:
            func()


@bp.get("/api/grid")
def grid() -> Response:
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    offset = parse_int(request.args.get("offset"), "offset", default=0, low=0, high=MAX_OFFSET)
    limit = parse_int(request.args.get("limit"), "limit", default=200, low=1, high=MAX_PAGE)
    ids = library().views.ids(db, filters.to_spec())
    items = vq.items_by_ids(db, ids[offset : offset + limit])
    return jsonify(total=len(ids), offset=offset, items=[{**i.as_dict(), "thumb": has_thumbnail(i.id)} for i in items])


@bp.get("/api/years")
def years() -> Response:
    """Where each year starts in the grid of this view (the scrubber's marks)."""
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    return jsonify(years=library().views.years(db, filters.to_spec()))


@bp.get("/api/groups")
def groups() -> Response:
    """The timeline's sections of this view (``by`` month or day): headers of the grid, newest first."""
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    by = request.args.get("by", "month")
    if by not in timeline.SECTIONS:
        raise bad_request(f"by must be {' or '.join(timeline.SECTIONS)}, not {by[:40]!r}")
    return jsonify(by=by, groups=library().views.groups(db, filters.to_spec(), by))


@bp.post("/api/favourite/<file_id>")
def favourite(file_id: str) -> Response:
    fid = parse_id(file_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("favourite"), bool):
        raise bad_request('send JSON {"favourite": true} or {"favourite": false}')
    set_favourite(fid, body["favourite"])
    return jsonify(id=fid, favourite=body["favourite"])


@bp.get("/api/jobs")
def jobs() -> Response:
    return jsonify(jobs=jobs_view.jobs(library()))


@bp.get("/events/jobs")
def job_events() -> Response:
    lib = library()
    interval = float(current_app.config.get("SSE_INTERVAL_S", SSE_INTERVAL_S))
    max_s = float(current_app.config.get("SSE_MAX_S", SSE_MAX_S))
    first = jobs_view.jobs(lib)  # errors (no library) surface here as a normal error response
    streams = current_app.extensions.setdefault("gallerfs_streams", threading.BoundedSemaphore(MAX_STREAMS))
    if not streams.acquire(blocking=False):
        raise ViewerError(503, f"more than {MAX_STREAMS} live pages are open: close one (this one retries by itself)")

    def stream() -> Iterator[str]:
        yield f"retry: {int(interval * 1000) * 3}\n\n"
        last = json.dumps(first)
        yield f"event: jobs\ndata: {last}\n\n"
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            time.sleep(interval)
            try:
                now = json.dumps(jobs_view.jobs(lib))
            except Exception as exc:  # a busy or vanished library ends this stream; the browser reconnects
                log.warning("jobs event stream stopped: %s", exc)
                return
            if now != last:
                last = now
                yield f"event: jobs\ndata: {now}\n\n"
            else:
                yield ": keep-alive\n\n"

    response = Response(stream(), mimetype="text/event-stream")  # needs no request context: it uses lib
    # The server closes the response when the stream ends or the browser goes away, started or not.
    response.call_on_close(_Once(streams.release))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response
