"""The sources page's actions: Rescan (one source or all, in the background; see ``rescans``) and
Add a folder — the one place the viewer accepts a path, checked by the same function as 'gallerfs add'
(gallerfs.addsource), so a folder inside a gallerfs mount is refused with the same one line."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request, url_for

from gallerfs.addsource import add_checked, check_folder
from gallerfs.mountguard import gallerfs_mounts
from gallerfs.viewer.errors import bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library
from gallerfs.viewer.rescans import Rescans

bp = Blueprint("sources", __name__)

MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255


def rescans() -> Rescans:
    return current_app.extensions["gallerfs_rescans"]


@bp.post("/sources/rescan")
def rescan_all() -> Response:
    rescans().start(library(), None)
    return redirect(url_for("pages.jobs"), code=303)


@bp.post("/sources/<source_id>/rescan")
def rescan_one(source_id: str) -> Response:
    rescans().start(library(), [parse_id(source_id, "source id")])
    return redirect(url_for("pages.jobs"), code=303)


@bp.post("/sources/add")
def add() -> Response:
    folder = request.form.get("folder", "").strip()
    name = request.form.get("name", "").strip() or None
    if not folder:
        raise bad_request("folder is empty: type the folder's full path")
    if len(folder) > MAX_PATH_CHARS or "\0" in folder:
        raise bad_request(f"folder must be a path of at most {MAX_PATH_CHARS} characters")
    if not folder.startswith(("/", "~")):
        raise bad_request("folder must be a full path (starting with / or ~)")
    if name is not None and len(name) > MAX_NAME_CHARS:
        raise bad_request(f"name is longer than {MAX_NAME_CHARS} characters")
    path = check_folder(folder, gallerfs_mounts())
    lib = library()
    lib.paths.ensure()
    with lib.writer() as db:
        add_checked(db, path, name)
    return redirect(url_for("pages.sources"), code=303)
