"""The journal in the viewer: a month calendar of days with photos and entries (``/journal``), an entry
as HTML with the photos of its day or week (``/journal/NAME``), and "new entry" (``/journal/new``).

Entries are the files of the journal folder (``journal_dir``), read from disk on every request; a
page names an entry by its period (``2024-07-14``, ``2024-W28``), never by a path. New entries are
written by ``gallerfs.journal.entries.new_entry`` — what ``gallerfs journal new`` runs: the same
template, the same never-clobber write, the same recording of mentions.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import os
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from gallerfs.db import journal as jdb
from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.journal.entries import MAX_ENTRY_BYTES, journal_folder, new_entry, period_files
from gallerfs.journal.links import parse_photo_target, photo_refs
from gallerfs.journal.periods import Period, day_period, parse_name, week_of
from gallerfs.journal.photos import period_photos, photos_per_day, resolve_refs
from gallerfs.journal.template import long_date, split_front_matter, title
from gallerfs.viewer import journal_html, photo_links
from gallerfs.viewer.errors import ViewerError, bad_request
from gallerfs.viewer.library import Library, library
from gallerfs.lru import LRU
from gallerfs.viewer.media import has_thumbnail

log = logging.getLogger(__name__)

bp = Blueprint("journal", __name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PERIOD_PHOTOS_SHOWN = 120  # photos of a day or week drawn on its page; the library grid has the rest
RECENT_ENTRIES = 12


def _month(text: str | None) -> dt.date:
    if not text:
        return dt.date.today().replace(day=1)
    m = _MONTH.match(text)
    if not m or not 1 <= int(m[2]) <= 12 or int(m[1]) < 1:
        raise bad_request(f"month must be YYYY-MM, not {text[:40]!r}")
    return dt.date(int(m[1]), int(m[2]), 1)


def _shift_month(first: dt.date, months: int) -> dt.date | None:
    n = first.year * 12 + first.month - 1 + months
    year, month = divmod(n, 12)
    return dt.date(year, month + 1, 1) if 1 <= year <= 9999 else None


def _photo_months(db: Database) -> list[tuple[str, int]]:
    """The months with photos, once per library generation (a scan of the library: ~0.1 s at 100,000)."""
    cache: LRU[int, list[tuple[str, int]]] = current_app.extensions.setdefault("gallerfs_journal_months", LRU(2))
    return cache.get_or_compute(tree_db.generation(db), lambda: jdb.months_with_photos(db))


def _folder_state(folder: Path) -> str:
    """'ok', 'missing' (no journal yet) or 'not-a-folder'."""
    if folder.is_dir():
        return "ok"
    return "not-a-folder" if os.path.lexists(folder) else "missing"


@bp.get("/journal", endpoint="calendar")
def calendar_page() -> str:
    lib = library()
    first = _month(request.args.get("month"))
    folder = journal_folder(lib.paths, lib.settings)
    entries = period_files(folder)
    days_in = calendar.monthrange(first.year, first.month)[1]
    start = first - dt.timedelta(days=first.weekday())
    last = first.replace(day=days_in)
    end = last + dt.timedelta(days=6 - last.weekday())
    counts = photos_per_day(lib.reader(), start, end)
    months = _photo_months(lib.reader())
    today = dt.date.today()
    weeks: list[dict[str, Any]] = []
    day = start
    while day <= end:
        week = week_of(day)
        cells = []
        for _ in range(7):
            cells.append({
                "date": day, "name": day.isoformat(), "in_month": day.month == first.month, "today": day == today,
                "photos": counts.get(day, 0), "entry": day.isoformat() in entries,
            })  # fmt: skip
            day += dt.timedelta(days=1)
        weeks.append({"name": week.name, "number": int(week.name.split("W")[1]), "entry": week.name in entries,
                      "days": cells})  # fmt: skip
    prev_month, next_month = _shift_month(first, -1), _shift_month(first, 1)
    recent = sorted(entries, key=lambda n: _sort_key(n), reverse=True)[:RECENT_ENTRIES]
    return render_template(
        "journal.html", page="journal", month=first, month_title=f"{calendar.month_name[first.month]} {first.year}",
        weeks=weeks, prev_month=prev_month.strftime("%Y-%m") if prev_month else None,
        next_month=next_month.strftime("%Y-%m") if next_month else None, this_month=today.strftime("%Y-%m"),
        folder=str(folder), folder_state=_folder_state(folder), entry_count=len(entries),
        month_photos=sum(c["photos"] for w in weeks for c in w["days"] if c["in_month"]),
        photo_months=[{"month": m, "title": t, "photos": n} for m, n in months if (t := _month_title(m))],
        recent=[{"name": n, "title": _title(n)} for n in recent], weekdays=("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    )  # fmt: skip


def _month_title(ym: str) -> str | None:
    """'August 2012' for '2012-08'; None for what names no month (a date taken like '0000-00')."""
    try:
        first = _month(ym)
    except ViewerError:
        return None
    return f"{calendar.month_name[first.month]} {first.year}"


def _sort_key(name: str) -> tuple[dt.date, int]:
    period = parse_name(name)
    return (period.start, 0 if period.kind == "week" else 1) if period else (dt.date.min, 0)


def _title(name: str) -> str:
    period = parse_name(name)
    return title(period) if period else name


def _period(name: str) -> Period:
    period = parse_name(name)
    if period is None:
        raise bad_request(f"a journal entry is a day (YYYY-MM-DD) or an ISO week (YYYY-Www), not {name[:40]!r}")
    return period


def _neighbours(period: Period) -> tuple[str, str]:
    if period.kind == "day":
        return (period.start - dt.timedelta(days=1)).isoformat(), (period.start + dt.timedelta(days=1)).isoformat()
    before, after = week_of(period.start - dt.timedelta(days=7)), week_of(period.start + dt.timedelta(days=7))
    return before.name, after.name


def _read_entry(path: Path) -> tuple[str | None, str | None]:
    """(text, problem): the entry's text, or why it cannot be shown (None, None when there is none)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    if not os.path.isfile(path):
        return None, f"{path} is not a file"
    if st.st_size > MAX_ENTRY_BYTES:
        return None, f"{path} is larger than {MAX_ENTRY_BYTES // (1024 * 1024)} MB: open it in an editor"
    try:
        return path.read_bytes().decode("utf-8", "replace"), None
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"


def _photo_tiles(db: Database, ids: list[int]) -> list[dict[str, Any]]:
    return [
        {"id": item.id, "name": item.name, "kind": item.kind, "online": item.online, "thumb_key": item.thumb_key,
         "has_thumb": has_thumbnail(item.id)}  # fmt: skip
        for item in vq.items_by_ids(db, ids)
    ]


def _linker(db: Database, body: str) -> tuple[journal_html.LocalLink, list[int]]:
    """The link rewriter for an entry's body, and the library ids its photo links resolve to (in order)."""
    refs = photo_refs(body)
    ids = resolve_refs(db, refs)
    by_ref = {ref: fid for ref, fid in zip(refs, ids) if fid is not None}

    def local(target: str) -> tuple[str, str | None] | None:
        ref = parse_photo_target(target)
        if ref is not None:
            fid = by_ref.get(ref)
            if fid is None:
                return None
            thumb = None
            if has_thumbnail(fid, "preview"):
                thumb = url_for("media.thumbnail", file_id=fid, size="preview") + f"?v={vq.thumb_key(db, fid) or ''}"
            return url_for("pages.photo", file_id=fid), thumb
        name = target[:-3] if target.endswith(".md") else target
        period = parse_name(name) if "/" not in name else None
        return (url_for("journal.entry", name=period.name), None) if period is not None else None

    return local, list(dict.fromkeys(fid for fid in ids if fid is not None))


@bp.get("/journal/<name>")
def entry(name: str) -> str:
    lib = library()
    period = _period(name)
    if period.name != name:
        raise bad_request(f"write the entry's name as {period.name}")
    db = lib.reader()
    folder = journal_folder(lib.paths, lib.settings)
    path = folder / period.filename
    text, problem = _read_entry(path)
    body_html, mentioned, front = None, [], None
    if text is not None:
        front, body = split_front_matter(text)
        local, ids = _linker(db, body)
        body_html = journal_html.render(body, local)
        mentioned = photo_links.describe(db, ids)
    photos = period_photos(db, period)
    before, after = _neighbours(period)
    grid_url = url_for("pages.grid", since=period.start.isoformat(), until=period.end.isoformat())
    week = week_of(period.start)
    days = [{"name": d.isoformat(), "title": long_date(d, year=False)} for d in period.days()] if period.kind == "week" else []
    return render_template(
        "journal_entry.html", page="journal", period=period, title=title(period), path=str(path),
        exists=text is not None, problem=problem, body_html=body_html, mentioned=mentioned,
        tags=(front or {}).get("tags") if isinstance((front or {}).get("tags"), list) else [],
        photos=_photo_tiles(db, [p.file_id for p in photos[:PERIOD_PHOTOS_SHOWN]]), photo_total=len(photos),
        grid_url=grid_url, before=before, after=after, week=week.name, days=days,
        month=period.start.strftime("%Y-%m"), folder_state=_folder_state(folder), folder=str(folder),
    )  # fmt: skip


@bp.post("/journal/new", endpoint="create_entry")
def create_entry_view() -> Response:
    """Create today's (``period=day``, the default) or this week's (``period=week``) entry — or, with
    ``name``, that day's or week's — through the CLI's own function, then show it (303)."""
    lib: Library = library()
    kind = request.form.get("period", "") or "day"
    if kind not in ("day", "week"):
        raise bad_request(f"period must be day or week, not {kind[:20]!r}")
    named = request.form.get("name", "").strip()
    if named:
        period = _period(named)
        if "period" in request.form and period.kind != kind:
            raise bad_request(f"{period.name} is a {period.kind}, not a {kind}")
    else:
        today = dt.date.today()
        period = day_period(today) if kind == "day" else week_of(today)
    with lib.writer() as db:
        created, _ = new_entry(lib.paths, lib.settings, db, period)
    log.info("journal entry %s %s", created.path, "created" if created.created else "already had content")
    return redirect(url_for("journal.entry", name=period.name), code=303)

