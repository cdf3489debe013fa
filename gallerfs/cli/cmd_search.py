"""``gallerfs search "QUERY"`` and ``gallerfs similar PATH|ID``: CLIP search from the shell."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.cli.file_arg import resolve_file
from gallerfs.errors import GallerfsError

if TYPE_CHECKING:
    from gallerfs.db.connection import Database
    from gallerfs.search import Filters, SearchHit

# numpy, the search engine and the model store are imported by the commands that use them, so that
# every other command starts without them.

log = logging.getLogger(__name__)


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, metavar="N", help="at most N results (default: search_limit, 50)")
    p.add_argument("--since", metavar="DATE", help="taken on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="taken on or before DATE (the whole year, month or day)")
    p.add_argument("--camera", metavar="TEXT", help="camera make or model contains TEXT (case-insensitive)")
    p.add_argument("--source", metavar="NAME", help="only files of this source")
    p.add_argument("--album", metavar="NAME", help="only files in this album")
    p.add_argument("--favourites", action="store_true", help="only favourites")
    p.add_argument("--kind", choices=("image", "video", "raw"), help="only this media type")
    p.add_argument("--has-gps", action="store_true", default=None, help="only files with a GPS position")
    p.add_argument("--journaled", action="store_true", help="only photos a journal entry links to")
    p.add_argument("--area", metavar="LAT_LON_...", help="only photos taken inside this map area (polygon vertices "
                   "lat_lon_lat_lon_..., as in the viewer's URL)")  # fmt: skip
    p.add_argument("--person", metavar="PERSON", help="only photos this person is in (a name, 'person N' or N: "
                   "see 'gallerfs people')")  # fmt: skip
    presence = p.add_mutually_exclusive_group()
    presence.add_argument("--online", dest="online", action="store_const", const=True, default=None,
                          help="only files whose source is online")  # fmt: skip
    presence.add_argument("--offline", dest="online", action="store_const", const=False,
                          help="only files whose source is offline (drive unplugged)")  # fmt: skip
    add_json_flag(p)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "search", help="find photos by a plain-English description (CLIP)",
        description="Rank the library's photos by how well they match QUERY, best first. Results scoring "
        "below search_relative_cutoff times the best score are left out; filters narrow the candidates.",
    )  # fmt: skip
    p.add_argument("query", metavar="QUERY", help='what to look for, e.g. "dog on the beach"')
    _add_filters(p)
    p.set_defaults(func=run_search)

    p = subparsers.add_parser(
        "similar", help="photos that look like a given photo",
        description="Rank the library's photos by similarity to one photo: a library file id, the photo's "
        "path in a source folder, or its path in the mount.",
    )  # fmt: skip
    p.add_argument("photo", metavar="PATH|ID", help="the photo: a file id, or a path (original or in the mount)")
    _add_filters(p)
    p.set_defaults(func=run_similar)


def _filters(args: argparse.Namespace) -> Filters:
    from gallerfs.search import Filters

    return Filters(
        since=args.since, until=args.until, camera=args.camera, source=args.source, album=args.album,
        favourites=args.favourites, kind=args.kind, has_gps=args.has_gps, journaled=args.journaled,
        area=args.area,
        online=args.online,
        person=args.person,
    )  # fmt: skip


def _limit(ctx: Context) -> int:
    limit = ctx.args.limit if ctx.args.limit is not None else ctx.settings.search_limit
    if limit < 1:
        raise GallerfsError("--limit must be at least 1")
    return limit


def _check_names(db: Database, filters: Filters) -> None:
    """Unknown source/album names are a mistake worth one line, not an empty result."""
    from gallerfs.search.filters import check_names

    check_names(db, filters)


def _emit(ctx: Context, db: Database, hits: list[SearchHit], empty_hint: str) -> None:
    from gallerfs.db import search as search_db

    rows = search_db.hit_rows(db, [h.file_id for h in hits])
    out: list[dict[str, Any]] = []
    for rank, hit in enumerate(hits, 1):
        r = rows.get(hit.file_id)
        if r is None:
            continue
        out.append({
            "rank": rank, "file_id": hit.file_id, "score": round(hit.score, 6), "source": r["source"],
            "relpath": r["relpath"], "path": r["root"].rstrip(b"/") + b"/" + r["relpath"], "kind": r["kind"],
            "taken_at": r["taken_at"], "camera": " ".join(x for x in (r["make"], r["model"]) if x) or None,
        })  # fmt: skip

    def text(items: list[dict[str, Any]]) -> str:
        if not items:
            return empty_hint
        return "\n".join(
            f"{i['rank']:>3}  {i['score']:.3f}  {printable(i['path'])}" + (f"  ({i['taken_at'][:10]})" if i["taken_at"] else "")
            for i in items
        )

    ctx.emit(out, text)


def run_search(ctx: Context) -> int:
    from gallerfs.db import embeddings as embeddings_db
    from gallerfs.search import search_files
    from gallerfs.models.store import require_model

    require_model(ctx.paths)  # says how to install one before anything else
    db = ctx.open_reader()
    filters = _filters(ctx.args)
    _check_names(db, filters)
    hits = search_files(db, ctx.paths, ctx.settings, ctx.args.query, _limit(ctx), filters)
    counts = embeddings_db.counts(db) if not hits else None
    hint = "no matches"
    if counts is not None and counts["embedded"] == 0:
        hint = "no photo is embedded yet: run 'gallerfs index'"
    _emit(ctx, db, hits, hint)
    return 0


def run_similar(ctx: Context) -> int:
    from gallerfs.search import similar_files

    db = ctx.open_reader()
    filters = _filters(ctx.args)
    _check_names(db, filters)
    file_id = resolve_file(db, ctx.args.photo)
    hits = similar_files(db, ctx.paths, ctx.settings, file_id, _limit(ctx), filters)
    _emit(ctx, db, hits, "no similar photos")
    return 0
