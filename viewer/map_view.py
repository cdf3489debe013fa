"""The map: every geotagged photo and video of the current filters.

The page (``/map``) draws an offline basemap (``maptiles``) and the view's positions. Up to
``client_max_points`` positions are sent once as a compact binary array (``/api/map/points``) and
clustered in the browser by supercluster in a Web Worker; beyond that the server clusters them per
request (``/api/map/clusters``, by bounding box and zoom; ``mapcluster``). Positions are computed once
per filtered view and library generation and shared by every request.

Binary format of ``/api/map/points`` (little-endian): the 4 bytes ``GFMP``, uint32 format version (1),
uint32 count N, uint32 library generation, then float32 latitude[N], float32 longitude[N],
uint32 file id[N] (ascending). With ``gen`` equal to the current generation the answer may be cached
for good (the page asks with the generation it was rendered at).
"""

from __future__ import annotations

import logging
import math
import struct
from typing import cast

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, send_file, url_for
from flask.blueprints import BlueprintSetupState

from gallerfs import area as area_mod
from gallerfs.db import map_queries as mq
from gallerfs.db import tree as tree_db
from gallerfs.db.search import FilterSpec
from gallerfs.viewer import security, urlfilters
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id, parse_int
from gallerfs.viewer.library import library
from gallerfs.viewer.mapcluster import PointIndex
from gallerfs.viewer.maptiles import Basemap, basemap
from gallerfs.viewer.media import has_thumbnail
from gallerfs.viewer.views import ViewCache

log = logging.getLogger(__name__)

bp = Blueprint("map", __name__)

CLIENT_MAX_POINTS = 300_000  # more than this: clustered by the server
MAX_ZOOM = 18  # the map's deepest zoom
CLUSTER_MAX_ZOOM = 16  # clusters are formed up to this zoom; a cluster clicked there lists its photos
MAX_ITEMS = 100  # ids per /api/map/items request
MAX_LIST = 200  # ids per page of a cluster's list
CACHED_VIEWS = 4  # positions of 1,000,000 photos take about 40 MB
YEAR_S = 365 * 86400
MAGIC = b"GFMP"
ATLAS = {"coarse": "vendor/world-atlas/countries-110m.json", "fine": "vendor/world-atlas/countries-50m.json"}
FORMAT = 1


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    settings = app.extensions["gallerfs_library"].settings
    app.extensions["gallerfs_map"] = MapState(basemap(settings.map_tiles))
    tiles = app.extensions["gallerfs_map"].basemap
    if tiles.kind == "online":
        security.allow_images_from(app, tiles.origin)
    if tiles.problem:
        log.warning("%s: the map draws the built-in outline", tiles.problem)


class MapState:
    def __init__(self, tiles: Basemap) -> None:
        self.basemap = tiles
        self.views: ViewCache[PointIndex] = ViewCache(lambda db, spec: PointIndex(mq.positions(db, spec)), CACHED_VIEWS)

    def index(self, spec: FilterSpec) -> tuple[PointIndex, int]:
        db = library().reader()
        return self.views.get(db, spec), tree_db.generation(db)


def _state() -> MapState:
    return current_app.extensions["gallerfs_map"]


def _client_max() -> int:
    return int(current_app.config.get("MAP_CLIENT_MAX_POINTS", CLIENT_MAX_POINTS))


@bp.get("/map")
def map_page() -> str:
    from gallerfs.viewer.pages import _filter_choices as filter_choices

    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    index, generation = _state().index(filters.to_spec())
    tiles = _state().basemap
    area = filters.to_spec().area
    bounds = index.bounds()
    return render_template(
        "map.html", page="map", atlas=ATLAS, filters=filters, filter_qs=urlfilters.query_string(filters), count=len(index),
        mode="client" if len(index) <= _client_max() else "server", generation=generation, basemap=tiles,
        tiles_url=url_for("map.pmtiles") if tiles.kind == "pmtiles" else tiles.url, max_zoom=MAX_ZOOM,
        cluster_max_zoom=CLUSTER_MAX_ZOOM, max_vertices=area_mod.MAX_VERTICES, area=area.encode() if area else "",
        bounds=",".join(f"{v:.6f}" for v in bounds) if bounds else "", library_gps=_library_gps(), **filter_choices(),
    )  # fmt: skip


def _library_gps() -> bool:
    return mq.any_position(library().reader())


@bp.get("/api/map/points")
def points() -> Response:
    filters = urlfilters.parse(request.args, library().reader())
    index, generation = _state().index(filters.to_spec())
    pos = index.positions
    n = len(pos.ids)
    body = b"".join((
        MAGIC, struct.pack("<III", FORMAT, n, generation & 0xFFFFFFFF), pos.lat.astype("<f4").tobytes(),
        pos.lon.astype("<f4").tobytes(), pos.ids.astype("<u4").tobytes(),
    ))  # fmt: skip
    response = Response(body, mimetype="application/octet-stream")
    response.set_etag(f"{generation}-{n}-{hash(filters.to_spec()) & 0xFFFFFFFF:08x}")
    if request.args.get("gen") == str(generation):
        response.headers["Cache-Control"] = f"private, max-age={YEAR_S}, immutable"
    else:
        response.headers["Cache-Control"] = "private, no-cache"
    response.make_conditional(request)
    return response


def parse_bbox(text: str | None) -> tuple[float, float, float, float]:
    """'south,west,north,east' in degrees (west > east: across the antimeridian)."""
    if not text:
        raise bad_request("bbox is required: south,west,north,east in degrees")
    parts = text.split(",")
    try:
        if len(parts) != 4 or len(text) > 120:
            raise ValueError
        south, west, north, east = (float(p) for p in parts)
    except ValueError:
        raise bad_request(f"bbox must be south,west,north,east in degrees, not {text[:60]!r}") from None
    if not all(math.isfinite(v) for v in (south, west, north, east)):
        raise bad_request("bbox must be finite numbers")
    if not (-90 <= south <= north <= 90):
        raise bad_request("bbox latitudes must be -90 <= south <= north <= 90")
    if east - west >= 360:
        west, east = -180.0, 180.0
    else:  # Leaflet's view may run past +-180 after panning round the world: fold it back
        west, east = ((west + 180) % 360) - 180, ((east + 180) % 360) - 180
        if east == -180 and west > -180:
            east = 180.0
    return south, west, north, east


@bp.get("/api/map/clusters")
def clusters() -> Response:
    filters = urlfilters.parse(request.args, library().reader())
    bbox = parse_bbox(request.args.get("bbox"))
    zoom = parse_int(request.args.get("zoom"), "zoom", default=0, low=0, high=MAX_ZOOM)
    index, generation = _state().index(filters.to_spec())
    found = index.clusters(bbox, min(zoom, CLUSTER_MAX_ZOOM))
    return jsonify(
        generation=generation, total=len(index), zoom=zoom,
        fields=["lat", "lon", "count", "id", "south", "west", "north", "east"],
        clusters=[c.as_list() for c in found],
    )  # fmt: skip


@bp.get("/api/map/ids")
def ids_in_box() -> Response:
    """The ids of the view's photos inside a box (a cluster's list), a page at a time."""
    filters = urlfilters.parse(request.args, library().reader())
    bbox = parse_bbox(request.args.get("bbox"))
    offset = parse_int(request.args.get("offset"), "offset", default=0, low=0, high=100_000_000)
    limit = parse_int(request.args.get("limit"), "limit", default=50, low=1, high=MAX_LIST)
    index, _ = _state().index(filters.to_spec())
    ids = index.ids_in(bbox)
    return jsonify(total=len(ids), offset=offset, ids=ids[offset : offset + limit].tolist())


@bp.get("/api/map/items")
def items() -> Response:
    """What a marker's tooltip or a cluster's list shows of each photo."""
    raw = request.args.get("ids", "")
    parts = [p for p in raw.split(",") if p]
    if not parts:
        raise bad_request("ids is required: a comma-separated list of file ids")
    if len(parts) > MAX_ITEMS:
        raise bad_request(f"at most {MAX_ITEMS} ids per request")
    ids = [parse_id(p) for p in parts]
    found = mq.marker_items(library().reader(), ids)
    return jsonify(items=[{**i, "thumb": has_thumbnail(i["id"])} for i in found])


@bp.get("/map/tiles.pmtiles")
def pmtiles() -> Response:
    """The local .pmtiles basemap named by map_tiles (Range requests: the map reads a few KB per tile)."""
    tiles = _state().basemap
    if tiles.kind != "pmtiles" or tiles.path is None:
        raise ViewerError(404, "no local .pmtiles basemap is configured (setting map_tiles)")
    try:
        response = send_file(tiles.path, mimetype="application/octet-stream", conditional=True, max_age=0)
    except OSError as exc:
        raise ViewerError(404, f"the map_tiles file cannot be read: {exc.strerror}") from None
    response.headers["Cache-Control"] = "private, no-cache"
    return response
