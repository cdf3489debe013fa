"""What keeps the viewer private to the user at this machine.

- ``Host`` must be a loopback name (DNS rebinding: a web page whose name
  resolves to 127.0.0.1 would otherwise read the library);
- every POST carries the per-process CSRF token (from the page's meta tag), and
  its ``Origin``, when sent, must be this server;
- every response gets a strict Content-Security-Policy (no inline script, no
  other origin) and is kept out of frames.
"""

from __future__ import annotations

import hmac
import re
import secrets

from flask import Flask, Response, current_app, g, request

from gallerfs.viewer.errors import ViewerError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# plotly.js's WebGL traces compile their drawing code at run time (regl): the one page that draws
# them (the clusters map) allows eval for its own document, nothing else. Scripts still come only
# from this server, never inline.
CSP_WITH_EVAL = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")  # see with_eval
HEADERS = {  # on every response (also the thumbnails that viewer.fastthumbs answers)
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_HOST = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\])(?::(\d{1,5}))?$", re.IGNORECASE)


def host_allowed(host: str, port: int | None) -> bool:
    """A loopback name, with this server's port when it is known."""
    m = _HOST.match(host.strip())
    if not m:
        return False
    if port is None:
        return True
    given = int(m[2]) if m[2] else 80
    return given == port


def new_token() -> str:
    return secrets.token_urlsafe(32)


def with_eval(policy: str) -> str:
    return policy.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'")


def allow_eval() -> None:
    """This response's page may eval (see ``CSP_WITH_EVAL``), on top of the app's policy (e.g. map tiles)."""
    g.csp = with_eval(current_app.config.get("CSP", CSP))


def csrf_token() -> str:
    return str(current_app.config["CSRF_TOKEN"])


def _check_csrf() -> None:
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    if not hmac.compare_digest(given.encode(), csrf_token().encode()):
        raise ViewerError(403, "missing or wrong CSRF token: reload the page and try again")
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        host = origin.split("://", 1)[-1]
        if not origin.startswith("http://") or not host_allowed(host, current_app.config.get("PORT")):
            raise ViewerError(403, "request from another site refused")


def allow_images_from(app: Flask, origin: str) -> None:
    """Let pages load images from one other origin (map tiles the user chose to fetch online)."""
    app.config["CSP"] = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")


def register(app: Flask) -> None:
    app.config.setdefault("CSRF_TOKEN", new_token())

    @app.before_request
    def _guard() -> None:
        host = request.headers.get("Host", "")
        if not host_allowed(host, app.config.get("PORT")):
            raise ViewerError(403, "refused: the viewer answers only to 127.0.0.1, localhost or [::1] on its port")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            _check_csrf()
        g.csrf_token = csrf_token()

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(HEADERS)
        response.headers["Content-Security-Policy"] = g.get("csp") or app.config.get("CSP", CSP)
        return response

    @app.context_processor
    def _token() -> dict[str, str]:
        return {"csrf_token": csrf_token()}
