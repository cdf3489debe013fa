"""The dashboard (``/dashboard``): totals, photos per month, cameras and lenses, file types, sources
and a disk-usage sunburst by folder — every panel under the unified filters in the URL.

The page is a frame; ``/api/dashboard`` answers every panel at once as JSON (queries in
``gallerfs.db.dashboard``), cached per library generation and filtered view, and
``static/dashboard.js`` draws them with plotly (SVG traces only: the strict CSP holds here).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from gallerfs.db import dashboard as dash_db
from gallerfs.db import tree as tree_db
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec
from gallerfs.lru import LRU
from gallerfs.units import human_bytes
from gallerfs.viewer import sunburst, urlfilters
from gallerfs.viewer.library import library

bp = Blueprint("dashboard", __name__)

CACHED_VIEWS = 8


def panels(db: Database, spec: FilterSpec) -> dict[str, Any]:
    totals = dash_db.totals(db, spec)
    sources = dash_db.sources(db, spec)
    totals["sources_online"] = sum(1 for s in sources if s["online"])
    totals["sources_offline"] = sum(1 for s in sources if not s["online"])
    totals["bytes_text"] = human_bytes(totals["bytes"])
    return {
        "totals": totals,
        "months": dash_db.per_month(db, spec),
        "cameras": dash_db.cameras(db, spec),
        "lenses": dash_db.lenses(db, spec),
        "places": dash_db.places(db, spec),
        "types": dash_db.file_types(db, spec),
        "sources": sources,
        "folders": sunburst.build(dash_db.folders(db, spec)),
    }


def _cache() -> LRU[tuple[Any, ...], dict[str, Any]]:
    return current_app.extensions.setdefault("gallerfs_dashboard", LRU(CACHED_VIEWS))


@bp.get("/dashboard")
def page() -> str:
    from gallerfs.viewer.pages import _filter_choices

    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    return render_template(
        "dashboard.html", page="dashboard", filters=filters, filter_qs=urlfilters.query_string(filters),
        library_total=len(library().views.ids(db, FilterSpec())), **_filter_choices(),
    )  # fmt: skip


@bp.get("/api/dashboard")
def data() -> Response:
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    spec = filters.to_spec()
    key = (str(db.path), tree_db.generation(db), spec)
    if spec.journaled:  # journal links change without a generation bump: always asked afresh
        return jsonify(panels(db, spec))
    return jsonify(_cache().get_or_compute(key, lambda: panels(db, spec)))
