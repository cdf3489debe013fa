"""plotly.js for the clusters page and the dashboard, served from the installed ``plotly`` package.

Nothing is vendored or fetched: ``/vendor/plotly.min.js`` is the bundle that ships inside the
Python package (``plotly/package_data``), read where it lies. The viewer's CSP forbids inline
styles, and plotly.js writes its stylesheet into ``<style>`` elements unless the page already has
an element with the id it would use: ``/vendor/plotly.css`` is that stylesheet, read out of the same
bundle (its rules are a JSON-like table there), linked under plotly's id with the class
``no-inline-styles``; the bundle's other injected sheets (maplibre's, unused here) are pre-empted the
same way by empty elements with their ids (``guard_ids``).
"""

from __future__ import annotations

import functools
import logging
import re
from importlib import resources
from pathlib import Path

from flask import Blueprint, Response, send_file

from gallerfs.viewer.errors import ViewerError

log = logging.getLogger(__name__)

bp = Blueprint("vendor", __name__)

CACHE_S = 7 * 24 * 3600
_RULES_START = '"X,X div":'
_RULE = re.compile(r"""(?:"([^"]*)"|'([^']*)'):(?:"([^"]*)"|'([^']*)')""")
_GUARD = re.compile(r'getElementById\("([0-9a-f]{32,64})"\)\)\{var \w+=document\.createElement\("style"\)')


def bundle_path() -> Path | None:
    """plotly.min.js inside the installed plotly package, or None when plotly is not installed."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _bundle_text() -> str:
    path = bundle_path()
    return path.read_text(encoding="utf-8", errors="replace") if path else ""


@functools.lru_cache(maxsize=1)
def css() -> str:
    """plotly.js's own style rules, as a stylesheet (empty when the bundle's table is not found)."""
    text = _bundle_text()
    start = text.find(_RULES_START)
    if start < 0:
        log.warning("plotly.js style rules not found in the bundle; plots are drawn without them")
        return ""
    end = text.find("}", start)
    out = []
    for m in _RULE.finditer(text, start - 1, end):
        selector, rules = m[1] if m[1] is not None else m[2], m[3] if m[3] is not None else m[4]
        selector = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        out.append(f"{selector} {{{rules}}}")
    return "\n".join(out) + "\n"


@functools.lru_cache(maxsize=1)
def guard_ids() -> tuple[str, ...]:
    """Ids of other <style> elements the bundle would inject (each skipped when the id exists)."""
    return tuple(dict.fromkeys(_GUARD.findall(_bundle_text())))


@bp.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    path = bundle_path()
    if path is None:
        raise ViewerError(404, "plotly is not installed: pip install plotly (the clusters and dashboard pages need it)")
    return send_file(path, mimetype="text/javascript", max_age=CACHE_S, conditional=True)


@bp.get("/vendor/plotly.css")
def plotly_css() -> Response:
    response = Response(css(), mimetype="text/css")
    response.cache_control.max_age = CACHE_S
    return response


@bp.app_context_processor
def _template_helpers() -> dict[str, object]:
    return {"plotly_guard_ids": guard_ids}
