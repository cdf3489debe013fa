"""The duplicate review (``/duplicates``): one set at a time, copies side by side, keyboard shortcuts.

Every action goes through the library functions the CLI and the mount use: the sets are
``indexer.duplicates.sets.find_sets`` (named by the same tags as ``MOUNT/duplicates/``), a keeper
choice and "trash the others" are ``indexer.duplicates.review``, each copy goes through
``remove.trash_copy`` (the last verified copy refused, offline copies shown but never counted as
the surviving one, a near set's only full-resolution picture refused), and undo is
``restore.restore_trashed``. Actions are CSRF-protected POSTs that redirect back to the review
with the outcome (``ReviewNotes``), so a reload never repeats one.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from gallerfs.errors import GallerfsError
from gallerfs.viewer import duplicate_view as dv
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.ids import parse_id
from gallerfs.viewer.library import library

log = logging.getLogger(__name__)

bp = Blueprint("duplicates", __name__)

_SET_ID = re.compile(r"^[0-9a-f]{8}(?:[0-9a-f]{8})?$")
KINDS = ("all", "exact", "near")
MAX_RECORDS = 100  # ids in one form field (an undo restores what one "trash the others" trashed)


def _sets() -> dv.SetCache:
    cache: dv.SetCache = current_app.extensions.setdefault("gallerfs_duplicate_sets", dv.SetCache())
    return cache


def _notes() -> dv.ReviewNotes:
    notes: dv.ReviewNotes = current_app.extensions.setdefault("gallerfs_review_notes", dv.ReviewNotes())
    return notes


def _kind(value: str | None) -> str:
    kind = value or "all"
    if kind not in KINDS:
        raise bad_request(f"kind must be one of {', '.join(KINDS)}, not {kind[:20]!r}")
    return kind


def _set_id(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not _SET_ID.match(value):
        raise bad_request(f"a duplicate set is named by 8 or 16 hex digits (as in MOUNT/duplicates/), not {value[:40]!r}")
    return value


def _review_url(kind: str, set_id: str | None = None, note: str | None = None) -> str:
    args: dict[str, Any] = {}
    if kind != "all":
        args["kind"] = kind
    if set_id:
        args["set"] = set_id
    if note:
        args["note"] = note
    return url_for("duplicates.review", **args)


@bp.get("/duplicates")
def review() -> str:
    lib = library()
    kind = _kind(request.args.get("kind"))
    wanted = _set_id(request.args.get("set"))
    listing = _sets().get(lib).of_kind(kind)
    note = _notes().get(request.args.get("note", ""))
    index = 0
    missing = None
    if wanted is not None:
        found = listing.index_of(wanted)
        if found is None:
            missing = wanted  # resolved meanwhile (or never existed): say so, show the first one left
        else:
            index = found
    current = listing.sets[index] if listing.sets else None
    context: dict[str, Any] = {
        "kind": kind, "kinds": KINDS, "counts": _sets().get(lib).counts(), "total": len(listing.sets),
        "index": index, "missing": missing, "note": note,
        "trashed": dv.recent_trash(lib.reader()), "undo": _notes().undoable(lib.reader()),
    }  # fmt: skip
    if current is not None:
        ids = listing.ids
        context.update(
            set=dv.describe_set(current, ids[index], listing.folders[index], lib.paths, lib.reader()),
            prev_url=_review_url(kind, ids[index - 1]) if index > 0 else "",
            next_url=_review_url(kind, ids[index + 1]) if index + 1 < len(ids) else "",
        )
    return render_template("duplicates.html", page="duplicates", **context)


def _posted_set(kind: str) -> tuple[str, Any]:
    set_id = _set_id(request.form.get("set"))
    if set_id is None:
        raise bad_request("no duplicate set given")
    listing = _sets().get(library()).of_kind(kind)
    found = listing.index_of(set_id)
    if found is None:
        raise ViewerError(404, f"no duplicate set {set_id} any more (resolved or changed meanwhile): reload the review")
    dup_set = listing.sets[found]
    shown = request.form.get("members")
    if shown is not None and sorted(_id_list(shown, "member")) != sorted(m.id for m in dup_set.members):
        # A copy was added or went meanwhile: never act on copies the user has not seen.
        raise ViewerError(409, f"duplicate set {set_id} changed since the page was shown: reload the review")
    return set_id, dup_set


def _keeper(dup_set: Any) -> int:
    keeper = parse_id(request.form.get("keeper", ""), "keeper")
    if all(m.id != keeper for m in dup_set.members):
        raise bad_request(f"file {keeper} is not a copy in this duplicate set")
    return keeper


@bp.post("/duplicates/keep")
def keep() -> Response:
    from gallerfs.indexer.duplicates.review import choose_keeper, library_actions

    lib = library()
    kind = _kind(request.form.get("kind"))
    set_id, dup_set = _posted_set(kind)
    keeper = _keeper(dup_set)
    with lib.writer() as db:
        _, keep_fn = library_actions(db, lib.settings)
        chosen = choose_keeper(dup_set, keeper, keep_fn)
    note = _notes().add(dv.Note("ok", [f"keeper: {dv.shown_path(chosen.keeper)}"]))
    return redirect(_review_url(kind, set_id, note), code=303)


@bp.post("/duplicates/trash")
def trash() -> Response:
    from gallerfs.indexer.duplicates.review import library_actions, trash_others

    lib = library()
    kind = _kind(request.form.get("kind"))
    set_id, dup_set = _posted_set(kind)
    keeper = _keeper(dup_set)
    listing = _sets().get(lib).of_kind(kind)
    after = listing.id_after(set_id)
    with lib.writer() as db:
        done = trash_others(dup_set, keeper, *library_actions(db, lib.settings))
    note = dv.trash_note(done)
    if note.records:
        _notes().last_trash = (set_id, note.records)
    # Fully resolved: on to the next set; anything refused: stay on this one to show why.
    target = set_id if done.refused or len(done.remaining.members) > 1 else after
    return redirect(_review_url(kind, target, _notes().add(note)), code=303)


@bp.post("/duplicates/restore")
def restore() -> Response:
    from gallerfs.indexer.duplicates.restore import restore_trashed

    lib = library()
    kind = _kind(request.form.get("kind"))
    back_to = _set_id(request.form.get("set"))
    records = _record_ids(request.form.get("records", ""))
    last = _notes().last_trash
    if last is not None and set(records) & set(last[1]):
        back_to = last[0]  # undo: back to the set those copies were trashed from
    lines: list[str] = []
    level = "ok"
    with lib.writer() as db:
        for record_id in records:
            try:
                outcome = restore_trashed(db, lib.settings, record_id)
            except GallerfsError as exc:
                level = "error"
                lines.append(str(exc))
                continue
            lines.append(f"restored {dv.shown_bytes(outcome.path)} from the trash")
    note = _notes().add(dv.Note(level, lines))
    return redirect(_review_url(kind, back_to, note), code=303)


def _id_list(text: str, what: str) -> list[int]:
    parts = [p for p in text.replace(" ", ",").split(",") if p]
    if len(parts) > MAX_RECORDS:
        raise bad_request(f"at most {MAX_RECORDS} {what}s at once")
    return [parse_id(p, what) for p in parts]


def _record_ids(text: str) -> list[int]:
    ids = _id_list(text, "trash record")
    if not ids:
        raise bad_request("nothing to restore: no trash record given")
    return ids

