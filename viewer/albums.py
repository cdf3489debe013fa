"""The albums page and its changes: create, rename, delete, and save the current filtered view as an
album — through the same library functions as 'gallerfs album' (so the mount's by-album/ shows them)."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for

from gallerfs.db import albums as albums_db
from gallerfs.db import tree as tree_db
from gallerfs.search import Filters
from gallerfs.viewer import present, urlfilters
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library

bp = Blueprint("albums", __name__)

MAX_NAME_CHARS = 255


def _name(field: str) -> str:
    value = request.form.get(field, "").strip()
    if not value:
        raise bad_request(f"{field.replace('_', ' ')} is empty")
    if len(value) > MAX_NAME_CHARS:
        raise bad_request(f"{field.replace('_', ' ')} is longer than {MAX_NAME_CHARS} characters")
    return albums_db.check_album_name(value)


def _to_albums() -> Response:
    return redirect(url_for("albums.albums"), code=303)


@bp.get("/albums")
def albums() -> str:
    rows = tree_db.list_albums(library().reader())
    return render_template("albums.html", page="albums", albums=rows, when=present.when)


@bp.post("/albums/create")
def create() -> Response:
    name = _name("name")
    with library().writer() as db:
        albums_db.create_album(db, name)
    return _to_albums()


@bp.post("/albums/rename")
def rename() -> Response:
    old, new = _name("name"), _name("new_name")
    with library().writer() as db:
        albums_db.rename_album(db, old, new)
    return _to_albums()


@bp.post("/albums/delete")
def delete() -> Response:
    name = _name("name")
    with library().writer() as db:
        albums_db.delete_album(db, name)
    return _to_albums()


@bp.post("/albums/save-view")
def save_view() -> Response:
    """Add every file of the filtered view (filters in the query string) to a new or existing album."""
    lib = library()
    reader = lib.reader()
    filters = urlfilters.parse(request.args, reader)
    new = request.form.get("new_name", "").strip()
    name = _name("new_name") if new else _name("album")
    ids = lib.views.ids(reader, filters.to_spec())
    if not ids:
        raise bad_request("no photo matches these filters: nothing to save")
    with lib.writer() as db:
        if new:
            albums_db.create_album(db, name)
        elif albums_db.album_by_name(db, name) is None:
            raise bad_request(f"no album named {name!r}")
        albums_db.add_to_album(db, name, ids)
    return redirect(url_for("pages.grid") + urlfilters.query_string(Filters(album=name)), code=303)


@bp.post("/photo/<file_id>/albums")
def photo_albums(file_id: str) -> Response:
    """Add one photo to a new or existing album, or (``remove``) take it out of one; back to the photo."""
    fid = parse_id(file_id)
    lib = library()
    filters = urlfilters.parse(request.args)
    if tree_db.file_row(lib.reader(), fid) is None:
        raise ViewerError(404, f"no file with id {fid} in the library")
    remove = request.form.get("remove", "").strip()
    new = request.form.get("new_name", "").strip()
    with lib.writer() as db:
        if remove:
            albums_db.remove_from_album(db, _name("remove"), [fid])
        else:
            name = _name("new_name") if new else _name("album")
            if new:
                albums_db.create_album(db, name)
            albums_db.add_to_album(db, name, [fid])
    return redirect(url_for("pages.photo", file_id=fid) + urlfilters.query_string(filters), code=303)
