"""The viewer's HTML pages: library grid, photo, search, sources, jobs."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, redirect, render_template, request, url_for

from gallerfs.db import albums as albums_db
from gallerfs.db import faces as faces_db
from gallerfs.db import files as files_db
from gallerfs.db import ocr as ocr_db
from gallerfs.db import tags as tags_db
from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.search import MAX_QUERY_CHARS, Filters, NoModelError, search_query, similar_files
from gallerfs.viewer import empty, jobs_view, photo_links, present, timeline, urlfilters
from gallerfs.viewer.errors import ViewerError
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library
from gallerfs.viewer.media import has_thumbnail

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)

def _filter_choices() -> dict[str, object]:
    db = library().reader()
    return {
        "sources": [s.name for s in tree_db.list_sources(db)],
        "albums": [a.name for a in tree_db.list_albums(db)],
        "people": faces_db.person_names(db),
        "cameras": library().views.cameras(db),
        "kinds": ("image", "video", "raw"),
    }


def _grid_context(filters: Filters) -> dict[str, object]:
    db = library().reader()
    views = library().views
    total = len(views.ids(db, filters.to_spec()))
    library_total = len(views.ids(db, Filters().to_spec()))
    choices = _filter_choices()
    return {
        "filters": filters,
        "filter_qs": urlfilters.query_string(filters),
        "total": total,
        "library_total": library_total,
        "why_empty": empty.explain(db, views, filters) if library_total and not total else [],
        **choices,
    }


@bp.get("/")
def grid() -> str:
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    group = timeline.parse_group(request.args)
    # at=ID (the photo page's way back): the grid opens scrolled to that photo, selected.
    at = parse_id(request.args["at"], "at") if request.args.get("at") else None
    ids = library().views.ids(db, filters.to_spec()) if at is not None else []
    start = ids.index(at) if at in ids else ""
    photo_qs = urlfilters.query_string(filters, group=timeline.carried(group))
    return render_template("grid.html", page="library", group=group, groupings=timeline.GROUPINGS, start=start,
                           photo_qs=photo_qs, **_grid_context(filters))  # fmt: skip


@bp.get("/photo/<file_id>")
def photo(file_id: str) -> str:
    fid = parse_id(file_id)
    db = library().reader()
    filters = urlfilters.parse(request.args, db)
    info = tree_db.file_details(db, fid)
    if info is None:
        raise ViewerError(404, f"no file with id {fid} in the library")
    info["source_path"] = present.shown(info["source_path"])
    prev_id, next_id = _neighbours(db, filters, fid)
    info["has_preview"] = has_thumbnail(fid, "preview")
    # The timeline's grouping rides along in the photo's links (and back to the grid, at this photo).
    group = timeline.carried(timeline.parse_group(request.args))
    return render_template(
        "photo.html", page="library", info=info, rows=present.details(info), filters=filters,
        filter_qs=urlfilters.query_string(filters, group=group), prev_id=prev_id, next_id=next_id,
        back_url=url_for("pages.grid") + urlfilters.query_string(filters, group=group, at=fid),
        thumb_key=vq.thumb_key(db, fid) or "", name=info["source_path"].rsplit("/", 1)[-1],
        similar_url=url_for("pages.search") + urlfilters.query_string(filters, similar=fid),
        other_albums=[a.name for a in tree_db.list_albums(db) if a.name not in info["albums"]],
        journal=photo_links.journal_entries(db, fid), duplicates=photo_links.duplicates(db, fid),
        tags=tags_db.tags_of(db, fid),
        photo_text=ocr_db.lines_of(db, fid),
    )  # fmt: skip


def _neighbours(db: Database, filters: Filters, fid: int) -> tuple[int | None, int | None]:
    """Previous and next photo in the current filtered view (also for a photo that left the view)."""
    return library().views.neighbours(db, filters.to_spec(), fid)


@bp.post("/photo/<file_id>/favourite")
def favourite(file_id: str) -> Response:
    fid = parse_id(file_id)
    filters = urlfilters.parse(request.args)
    wanted = urlfilters.parse_flag("favourite", request.form.get("favourite", ""))
    set_favourite(fid, wanted)
    group = timeline.carried(timeline.parse_group(request.args))
    return redirect(url_for("pages.photo", file_id=fid) + urlfilters.query_string(filters, group=group), code=303)


def set_favourite(fid: int, wanted: bool) -> None:
    """Through the same library functions as 'gallerfs favourite'."""
    if not tree_db.file_row(library().reader(), fid):
        raise ViewerError(404, f"no file with id {fid} in the library")
    with library().writer() as db:
        if wanted:
            albums_db.add_favourites(db, [fid])
        else:
            albums_db.remove_favourites(db, [fid])


@bp.get("/search")
def search() -> str:
    lib = library()
    db = lib.reader()
    filters = urlfilters.parse(request.args, db)
    query = " ".join(request.args.get("q", "").split())
    if len(query) > MAX_QUERY_CHARS:
        raise ViewerError(400, f"the search query is longer than {MAX_QUERY_CHARS} characters")
    similar = parse_id(request.args["similar"], "similar") if "similar" in request.args else None
    if similar is not None and query:
        raise ViewerError(400, "search by a description or by a photo (similar), not both")
    similar_name = None
    if similar is not None:
        details = tree_db.file_details(db, similar)
        if details is None:
            raise ViewerError(404, f"no file with id {similar} in the library")
        similar_name = present.shown(details["source_path"]).rsplit("/", 1)[-1]
    context = _grid_context(filters)
    hits: list[vq.GridItem] = []
    notice = None
    understood = None  # how the query was read: the line above the results
    no_model = False
    if query or similar is not None:
        try:
            if similar is not None:
                found = similar_files(db, lib.paths, lib.settings, similar, lib.settings.search_limit, filters)
            else:  # the query's own words about dates, places, cameras... filter too
                result = search_query(db, lib.paths, lib.settings, query, lib.settings.search_limit, filters)
                found, understood, notice = result.hits, result.interpretation.explain(), result.note
        except NoModelError as exc:
            notice = f"{exc}; meanwhile the filters alone are applied below"
            no_model = True
            found = None
        except GallerfsError as exc:
            notice = str(exc)
            found = None
        if found is not None:
            hits = vq.items_by_ids(db, [h.file_id for h in found])
            if not hits and notice is None:
                empty = not context["library_total"]
                notice = "the library is empty: run 'gallerfs add FOLDER'" if empty else "no matches"
    return render_template(
        "search.html", page="search", query=query, hits=hits, notice=notice, has_thumbnail=has_thumbnail,
        understood=understood,
        show_grid=(not query and similar is None) or no_model, similar=similar, similar_name=similar_name, **context,
    )  # fmt: skip


@bp.get("/sources")
def sources() -> str:
    from gallerfs.viewer.sources import rescans

    return render_template(
        "sources.html", page="sources", sources=jobs_view.sources(library()), rescan_running=rescans().running(),
    )  # fmt: skip


@bp.get("/jobs")
def jobs() -> str:
    lib = library()
    return render_template(
        "jobs.html", page="jobs", jobs=jobs_view.jobs(lib), failures=files_db.failures(lib.reader(), limit=200),
        when=present.when,
    )  # fmt: skip
