"""The viewer's one error type and the one place errors are rendered.

Every failure a user can cause (a malformed id, filter or query, a missing
file, a drive that is offline) raises ``ViewerError`` with a status and a
one-line message; library errors (``GallerfsError``) become 400s. Pages get an
HTML error page, ``/api/`` routes get ``{"error": message}``. Anything else is
a bug: it is logged with its traceback and the user sees a one-line 500.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from gallerfs.errors import GallerfsError, LibraryBusyError

log = logging.getLogger(__name__)


class ViewerError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ViewerError:
    return ViewerError(400, message)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/events/")


def render_error(status: int, message: str) -> Response:
    if _wants_json():
        response = jsonify(error=message)
    else:
        response = Response(render_template("error.html", status=status, message=message), mimetype="text/html")
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask) -> None:
    @app.errorhandler(ViewerError)
    def _viewer_error(exc: ViewerError) -> Response:
        return render_error(exc.status, exc.message)

    @app.errorhandler(LibraryBusyError)
    def _busy(exc: LibraryBusyError) -> Response:
        return render_error(503, str(exc))

    @app.errorhandler(GallerfsError)
    def _library_error(exc: GallerfsError) -> Response:
        return render_error(400, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        messages = {404: "no such page", 405: "this address does not accept that method"}
        return render_error(exc.code or 500, messages.get(exc.code or 0, exc.name))

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        log.exception("internal error serving %s", request.path)
        return render_error(500, f"internal error: {type(exc).__name__} (see the server's log)")
