"""The clusters page: every embedded photo as a point of the 2-D map the indexer computed
(``gallerfs.indexer.projection``), drawn with plotly's WebGL scatter.

- ``/clusters`` is the page (filters, a query box, or what to do when there is nothing to draw);
- ``/api/clusters/points`` sends the points as one binary array (``pack_points``), each marked as in
  the current filtered view or not;
- ``/api/clusters/query?q=`` places a text query in the same space (its CLIP text vector through the
  same map) and lists its nearest photos under the filters;
- ``/api/clusters/item/ID`` is what hovering a point shows.

A lasso or box selection becomes the ``cluster`` filter (``gallerfs.search.region``) in the URL, so
the grid and search then show the same photos. Nothing here computes the map: at 100,000 photos a
request only reads the stored points (cached per library generation).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from gallerfs.db import projection as projection_db
from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec
from gallerfs.errors import GallerfsError
from gallerfs.lru import LRU
from gallerfs.search import MAX_QUERY_CHARS, NoModelError, is_model_installed, search_files, text_vector
from gallerfs.search.region import MAX_VERTICES
from gallerfs.viewer import security, urlfilters
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library
from gallerfs.viewer.media import has_thumbnail

bp = Blueprint("clusters", __name__)

NEAREST = 50  # photos highlighted around a query point
MAGIC = b"GFPT"
CACHED = 8  # packed point sets kept (one per filtered view)


def pack_points(fit: int, ids: np.ndarray, xy: np.ndarray, in_view: np.ndarray) -> bytes:
    """Little-endian: 'GFPT', uint32 n, uint32 fit, uint32 0, then float32 x[n], float32 y[n],
    uint32 id[n], uint8 in_view[n] (1: passes the current filters)."""
    n = len(ids)
    header = MAGIC + struct.pack("<III", n, fit, 0)
    return b"".join((
        header, np.ascontiguousarray(xy[:, 0], dtype="<f4").tobytes(), np.ascontiguousarray(xy[:, 1], dtype="<f4").tobytes(),
        np.ascontiguousarray(ids, dtype="<u4").tobytes(), np.ascontiguousarray(in_view, dtype=np.uint8).tobytes(),
    ))  # fmt: skip


class PointCache:
    """The stored points per map version, and their packed form per filtered view."""

    def __init__(self) -> None:
        self._points: LRU[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = LRU(2)
        self._packed: LRU[tuple[Any, ...], bytes] = LRU(CACHED)

    def points(self, db: Database) -> tuple[tuple[Any, ...], np.ndarray, np.ndarray]:
        key = (str(db.path), projection_db.version(db), tree_db.generation(db))
        ids, xy = self._points.get_or_compute(key, lambda: projection_db.points(db))
        return key, ids, xy

    def packed(self, db: Database, spec: FilterSpec) -> bytes:
        key, ids, xy = self.points(db)

        def build() -> bytes:
            if spec.is_empty():
                in_view = np.ones(len(ids), dtype=np.uint8)
            else:
                view = np.fromiter(library().views.ids(db, spec), dtype=np.int64)
                in_view = np.isin(ids, view).astype(np.uint8)
            return pack_points(int(key[1][0] or 0), ids, xy, in_view)

        return self._packed.get_or_compute((key, spec), build)


def _cache() -> PointCache:
    return current_app.extensions.setdefault("gallerfs_clusters", PointCache())


def _query_text() -> str:
    query = " ".join(request.args.get("q", "").split())
    if len(query) > MAX_QUERY_CHARS:
        raise bad_request(f"the search query is longer than {MAX_QUERY_CHARS} characters")
    return query


@bp.get("/clusters")
def page() -> str:
    from gallerfs.viewer.pages import _filter_choices

    lib = library()
    db = lib.reader()
    filters = urlfilters.parse(request.args, db)
    fit = projection_db.get_fit(db)
    placed = projection_db.point_count(db) if fit else 0
    if fit and placed:
        security.allow_eval()  # plotly's WebGL scatter (see security.CSP_WITH_EVAL)
    return render_template(
        "clusters.html", page="clusters", filters=filters, filter_qs=urlfilters.query_string(filters),
        query=_query_text(), fit=fit, placed=placed, embedded=projection_db.embedded_count(db),
        model_installed=is_model_installed(lib.paths), max_vertices=MAX_VERTICES, **_filter_choices(),
    )  # fmt: skip


@bp.get("/api/clusters/points")
def points() -> Response:
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    if projection_db.get_fit(db) is None:
        raise ViewerError(
            404, "no clusters map yet: install a model ('gallerfs models install'), then 'gallerfs index'"
        )
    response = Response(_cache().packed(db, filters.to_spec()), mimetype="application/octet-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/api/clusters/query")
def query() -> Response:
    lib = library()
    db = lib.reader()
    filters = urlfilters.parse(request.args, db)
    text = _query_text()
    if not text:
        raise bad_request("give a query: /api/clusters/query?q=...")
    fit = projection_db.get_fit(db)
    if fit is None:
        raise ViewerError(404, "no clusters map yet: run 'gallerfs index'")
    try:
        vector = text_vector(lib.paths, lib.settings, text)
        hits = search_files(db, lib.paths, lib.settings, text, NEAREST, filters)
    except NoModelError as exc:
        raise ViewerError(409, str(exc)) from None
    except GallerfsError as exc:
        raise bad_request(str(exc)) from None
    if vector.shape[0] != fit.mean.shape[0]:
        raise ViewerError(409, "the clusters map was made with another model: run 'gallerfs index'")
    x, y = (float(v) for v in fit.project(vector[None, :])[0])
    return jsonify(query=text, x=x, y=y, fit=fit.fit, nearest=[h.file_id for h in hits])


@bp.get("/api/clusters/item/<file_id>")
def item(file_id: str) -> Response:
    fid = parse_id(file_id)
    found = vq.items_by_ids(library().reader(), [fid])
    if not found:
        raise ViewerError(404, f"no file with id {fid} in the library")
    it = found[0]
    return jsonify(id=it.id, name=it.name, taken_at=it.taken_at, kind=it.kind, online=it.online,
                   thumb=has_thumbnail(it.id))  # fmt: skip
