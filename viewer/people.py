"""The People page: the persons the faces job found, with a face of each, and their edits (rename,
merge, split, "not this person") through the same functions as 'gallerfs people' (``gallerfs.people``),
so the mount's people/ and the ``person`` filter follow at once.

Face crops are served by face id only (``/face/ID.jpg``), cut from the photo's preview thumbnail (the
cache the indexer writes, there while a source is offline); a face id's box never changes, and the ETag
carries the file's content key, so a browser revalidates a cached crop cheaply.
"""

from __future__ import annotations

import io
import logging

from flask import Blueprint, Response, redirect, render_template, request, url_for
from PIL import Image

from gallerfs.db import faces as faces_db
from gallerfs.indexer.thumbnails import thumbnail_path
from gallerfs.viewer import urlfilters
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library
from gallerfs.search import Filters

log = logging.getLogger(__name__)

bp = Blueprint("people", __name__)

CROP_PX = 160  # face crops are at most this many pixels on a side
MARGIN = 0.25  # of the box, added on each side so a crop shows the whole head
MAX_NAME_CHARS = 255
MAX_FACES_SHOWN = 500


def _person_filter(p: faces_db.Person) -> str:
    """What the grid's person= filter is given for this person (the name, else the id)."""
    return p.name if p.name else str(p.id)


def grid_link(p: faces_db.Person) -> str:
    return url_for("pages.grid") + urlfilters.query_string(Filters(person=_person_filter(p)))


@bp.get("/people")
def people_page() -> str:
    persons = faces_db.list_persons(library().reader())
    return render_template("people.html", page="people", persons=persons, grid_link=grid_link)


@bp.get("/people/<person_id>")
def person_page(person_id: str) -> str:
    db = library().reader()
    person = faces_db.get_person(db, parse_id(person_id, "person id"))
    if person is None:
        raise ViewerError(404, f"no person {person_id} (merged into another, or never found)")
    faces = faces_db.faces_of_person(db, person.id, MAX_FACES_SHOWN)
    others = [p for p in faces_db.list_persons(db) if p.id != person.id]
    return render_template("person.html", page="people", person=person, faces=faces, others=others,
                           grid_link=grid_link(person))  # fmt: skip


def _crop(path: str, face: faces_db.Face, width: int | None, height: int | None) -> bytes:
    with Image.open(path) as im:
        im.load()
        sx = im.width / width if width else 1.0
        sy = im.height / height if height else 1.0
        mx, my = face.w * MARGIN, face.h * MARGIN
        box = (max(0, round((face.x - mx) * sx)), max(0, round((face.y - my) * sy)),
               min(im.width, round((face.x + face.w + mx) * sx)), min(im.height, round((face.y + face.h + my) * sy)))  # fmt: skip
        if box[2] <= box[0] or box[3] <= box[1]:
            raise ViewerError(404, "the face lies outside its photo's preview")
        crop = im.crop(box).convert("RGB")
    crop.thumbnail((CROP_PX, CROP_PX), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=85)
    return out.getvalue()


@bp.get("/face/<face_id>.jpg")
def face_image(face_id: str) -> Response:
    lib = library()
    found = faces_db.crop_source(lib.reader(), parse_id(face_id, "face id"))
    if found is None:
        raise ViewerError(404, f"no face {face_id} in the library")
    face, width, height, key = found
    preview = thumbnail_path(lib.paths.thumbnails, face.file_id, "preview")
    if not preview.is_file():
        raise ViewerError(404, f"file {face.file_id} has no preview thumbnail yet (run 'gallerfs index')")
    etag = f"face-{face.id}-{key}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        try:
            data = _crop(str(preview), face, width, height)
        except OSError as exc:
            raise ViewerError(404, f"the preview of file {face.file_id} cannot be read: {exc}") from None
        response = Response(data, mimetype="image/jpeg")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _name(field: str) -> str:
    value = request.form.get(field, "").strip()
    if not value:
        raise bad_request(f"{field.replace('_', ' ')} is empty")
    if len(value) > MAX_NAME_CHARS:
        raise bad_request(f"{field.replace('_', ' ')} is longer than {MAX_NAME_CHARS} characters")
    return value


def _face_ids() -> list[int]:
    ids = [parse_id(v, "face id") for v in request.form.getlist("face")]
    if not ids:
        raise bad_request("select at least one face")
    return ids


def _back(person_id: int | None = None) -> Response:
    if person_id is not None and faces_db.get_person(library().reader(), person_id) is not None:
        return redirect(url_for("people.person_page", person_id=person_id), code=303)
    return redirect(url_for("people.people_page"), code=303)


@bp.post("/people/<person_id>/rename")
def rename(person_id: str) -> Response:
    from gallerfs import people

    pid = parse_id(person_id, "person id")
    with library().writer() as db:
        people.rename(db, str(pid), _name("name"))
    return _back(pid) if request.form.get("back") == "person" else _back()


@bp.post("/people/<person_id>/merge")
def merge(person_id: str) -> Response:
    """Merge the person chosen in the form (``other``) into this one."""
    from gallerfs import people

    pid = parse_id(person_id, "person id")
    other = parse_id(request.form.get("other", ""), "person id")
    with library().writer() as db:
        people.merge(db, str(pid), [str(other)])
    return _back(pid)


@bp.post("/people/<person_id>/split")
def split(person_id: str) -> Response:
    """The selected faces (``face``, repeated) become a new person, named when ``name`` is given."""
    from gallerfs import people

    name = request.form.get("name", "").strip() or None
    if name is not None and len(name) > MAX_NAME_CHARS:
        raise bad_request(f"name is longer than {MAX_NAME_CHARS} characters")
    with library().writer() as db:
        new = people.split(db, _face_ids(), name)
    return _back(new.id)


@bp.post("/people/<person_id>/remove")
def remove(person_id: str) -> Response:
    """"Not this person": the selected faces leave the person for good."""
    from gallerfs import people

    with library().writer() as db:
        people.remove_faces(db, _face_ids(), library().settings.face_distance)
    return _back(parse_id(person_id, "person id"))
