"""``gallerfs search "QUERY"`` (CLIP, text in photos, ...), ``gallerfs search --text TEXT`` and
``gallerfs similar PATH|ID`` from the shell."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

from gallerfs.cli.context import Context, add_json_flag, printable
from gallerfs.cli.file_arg import resolve_file
from gallerfs.errors import GallerfsError

if TYPE_CHECKING:
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths
    from gallerfs.search import Filters, SearchHit

# numpy, the search engine and the model store are imported by the commands that use them, so that
# every other command starts without them.

log = logging.getLogger(__name__)


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, metavar="N", help="at most N results (default: search_limit, 50)")
    p.add_argument("--since", metavar="DATE", help="taken on or after DATE (YYYY, YYYY-MM or YYYY-MM-DD)")
    p.add_argument("--until", metavar="DATE", help="taken on or before DATE (the whole year, month or day)")
    p.add_argument("--camera", metavar="TEXT", help="camera make or model contains TEXT (case-insensitive)")
    p.add_argument("--place", metavar="PLACE", action="append", default=[],
                   help="taken in this country, region or city (repeat for any of several; see 'gallerfs places')")
    p.add_argument("--source", metavar="NAME", help="only files of this source")
    p.add_argument("--album", metavar="NAME", help="only files in this album")
    p.add_argument("--favourites", action="store_true", help="only favourites")
    p.add_argument("--kind", choices=("image", "video", "raw"), help="only this media type")
    p.add_argument("--has-gps", action="store_true", default=None, help="only files with a GPS position")
    p.add_argument("--journaled", action="store_true", help="only photos a journal entry links to")
    p.add_argument("--tag", metavar="TAG", help="only photos with this tag (see by-tag/ in the mount)")
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
        "search", help="find photos by a plain-English description, or by the text in them",
        description="Rank the library's photos by how well they match QUERY, best first. Words of the query "
        "about dates (2019, summer 2008, last July, 2019-2021), places (countries, and the library's regions and "
        "cities), cameras of the library, videos and favourites become filters; the rest is scored by every "
        "signal installed: CLIP similarity (a model from 'gallerfs models install'), the words printed in "
        "photos (the 'ocr' extra) and the photos' tags by meaning ('gallerfs models install text'); with "
        "nothing left the matches come newest first. Results scoring below search_relative_cutoff times a "
        "signal's best score are left out; options add filters (and win over the query's words). --text "
        "searches only the text inside photos.",
    )  # fmt: skip
    p.add_argument("query", metavar="QUERY", nargs="?",
                   help='what to look for, e.g. "dog on the beach" or "sunset in Italy, summer 2008"')
    p.add_argument("--text", metavar="TEXT", help='only photos whose text (read by OCR) holds every word of TEXT; '
                   '"quoted phrases" word for word, words of 3+ letters also as prefixes')  # fmt: skip
    p.add_argument("--explain", action="store_true",
                   help="show why results match: how the query was understood (its filters and the words left "
                   "for the signals) and each result's score per signal")  # fmt: skip
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
        favourites=args.favourites, kind=args.kind, has_gps=args.has_gps, journaled=args.journaled, tag=args.tag,
        area=args.area,
        online=args.online,
        places=tuple(getattr(args, "place", None) or ()),
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


def _hits_json(db: Database, hits: list[SearchHit], explain: bool = False) -> list[dict[str, Any]]:
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
        if explain:
            out[-1]["signals"] = {name: round(score, 6) for name, score in hit.signals.items()}
    return out


def _hits_text(items: list[dict[str, Any]], empty_hint: str, *, scored: bool = True) -> str:
    if not items:
        return empty_hint
    lines = []
    for i in items:
        lines.append(f"{i['rank']:>3}  " + (f"{i['score']:.3f}  " if scored else "")
                     + printable(i["path"]) + (f"  ({i['taken_at'][:10]})" if i["taken_at"] else ""))  # fmt: skip
        if "signals" in i:  # --explain: each signal's own score
            lines.append("            " + "  ".join(f"{n} {v:.3f}" for n, v in i["signals"].items()))
    return "\n".join(lines)


def _emit(ctx: Context, db: Database, hits: list[SearchHit], empty_hint: str, explain: bool = False) -> None:
    items = _hits_json(db, hits, explain)
    ctx.emit(items, lambda data: _hits_text(data, empty_hint))


def _empty_hint(db: Database, paths: LibraryPaths) -> str:
    from gallerfs.db import embeddings as embeddings_db
    from gallerfs.search import is_model_installed

    if is_model_installed(paths) and embeddings_db.counts(db)["embedded"] == 0:
        return "no photo is embedded yet: run 'gallerfs index'"
    return "no matches"


def _set_filters(filters: Filters) -> dict[str, Any]:
    from dataclasses import asdict

    return {k: v for k, v in asdict(filters).items() if v not in (None, False, ())}


def run_search(ctx: Context) -> int:
    from gallerfs.search import NO_MODEL_MESSAGE, NoModelError, can_search, search_query

    args = ctx.args
    if args.text is not None and args.query is not None:
        raise GallerfsError("give a QUERY or --text TEXT, not both")
    if args.text is None and args.query is None:
        raise GallerfsError("give a QUERY to search for, or --text TEXT")
    if args.text is not None:
        return _run_text_search(ctx)
    if not ctx.paths.db.exists() and not can_search(ctx.paths):
        raise NoModelError(NO_MODEL_MESSAGE)  # no library to filter: how to install a model comes first
    db = ctx.open_current_reader()  # the query's place words need the places table
    filters = _filters(args)
    _check_names(db, filters)
    result = search_query(db, ctx.paths, ctx.settings, args.query, _limit(ctx), filters)
    found = result.interpretation
    for notice in result.notices:
        print(f"gallerfs: {notice}", file=sys.stderr)
    items = _hits_json(db, result.hits, explain=args.explain and not result.by_date)
    hint = "no matches" if result.by_date or result.hits else _empty_hint(db, ctx.paths)
    if args.explain and ctx.json:
        ctx.emit({"interpretation": {"explain": found.explain(), "content": found.content,
                                     "filters": _set_filters(found.filters), "by_date": result.by_date,
                                     "signals": list(result.signals), "parts": [p.__dict__ for p in found.parts]},
                  "results": items})  # fmt: skip
        return 0
    if args.explain and not ctx.json:
        print(f"understood: {found.explain()}")
    ctx.emit(items, lambda data: _hits_text(data, hint, scored=not result.by_date))
    return 0


def _run_text_search(ctx: Context) -> int:
    from gallerfs.db import ocr as ocr_db
    from gallerfs.models import extras
    from gallerfs.search import text_search

    db = ctx.open_reader()
    filters = _filters(ctx.args)
    _check_names(db, filters)
    hits = text_search(db, ctx.args.text, _limit(ctx), filters)
    hint = "no photo has this text"
    if not hits and ocr_db.counts(db)["read"] == 0:
        hint = "no photo has been read for text yet: " + (
            extras.notice("ocr", "reading text in photos") if extras.missing("ocr") else "run 'gallerfs index'"
        )
    _emit(ctx, db, hits, hint, ctx.args.explain)
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
