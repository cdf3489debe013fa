"""Entries on disk: creating them from the template, and recording them with their mentions.

Everything here works on the real journal folder (``config.journal_dir``);
the mount's ``journal/`` is a passthrough of it, so a file created through the
mount, by Obsidian in the folder itself, or by a sync tool is the same file.

* ``create_entry`` — ``gallerfs journal new``: the template, written safely.
* ``fill_if_empty`` — what the mount calls after ``release`` of an empty
  ``YYYY-MM-DD.md`` / ``YYYY-Www.md`` it created (reads the library only).
* ``on_journal_file_event`` — what the watcher calls for any path under the
  journal folder: fill an empty period file, record an entry, forget a deleted one.
* ``sync_journal`` — a full re-scan of the folder (``watch`` at start,
  ``journal list``; ``journal_index_stage`` runs it after ``gallerfs index``).

A note the library once saw with content is never filled again, even when the
user empties it (``journal_entries.had_content``); ``journal new`` is an
explicit request and fills any empty entry.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gallerfs import config
from gallerfs.db import journal as jdb
from gallerfs.errors import GallerfsError
from gallerfs.journal.links import PHOTOS_DIR, photo_refs
from gallerfs.journal.periods import Period, parse_filename
from gallerfs.journal.photos import period_photos, resolve_refs
from gallerfs.journal.safewrite import write_if_empty
from gallerfs.journal.template import render_entry, split_front_matter

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

# Entries larger than this are recorded without reading their links.
MAX_ENTRY_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Created:
    path: Path
    period: Period
    created: bool  # False: the file existed with content and was left alone
    photos: tuple[int, ...]  # the ids the template listed (empty when not created)


@dataclass
class SyncReport:
    filled: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


def journal_folder(paths: LibraryPaths, settings: Settings) -> Path:
    return config.journal_dir(settings, paths.root)


def _relpath(folder: Path, path: Path) -> bytes | None:
    """path under the journal folder as '/'-separated bytes, or None if it is not a journal note."""
    try:
        rel = Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
    except ValueError:
        return None
    parts = rel.parts
    if not parts or not parts[-1].endswith(".md"):
        return None
    if any(p.startswith(".") or p == PHOTOS_DIR for p in parts):
        return None
    return os.fsencode("/".join(parts))


def create_entry(paths: LibraryPaths, settings: Settings, db: Database, period: Period) -> Created:
    """Write the template of ``period`` unless its file already has content."""
    folder = journal_folder(paths, settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GallerfsError(f"cannot create the journal folder {folder}: {exc.strerror}") from None
    path = folder / period.filename
    photos = period_photos(db, period)
    try:
        written = write_if_empty(path, render_entry(period, photos))
    except OSError as exc:
        raise GallerfsError(f"cannot write {path}: {exc.strerror}") from None
    return Created(path, period, written, tuple(p.file_id for p in photos) if written else ())


def new_entry(
    paths: LibraryPaths, settings: Settings, db: Database, period: Period
) -> tuple[Created, jdb.EntryRow | None]:
    """``gallerfs journal new`` and the viewer's "new entry": the template, written safely, then recorded
    with its mentions (``db`` is a writer)."""
    created = create_entry(paths, settings, db, period)
    return created, record_file(db, journal_folder(paths, settings), created.path)


def period_files(folder: Path) -> dict[str, Path]:
    """The entries at the top of the journal folder named after a period: name ('2024-07-14', '2024-W28') ->
    path. Cheap (one directory listing), for calendars; other notes are left out."""
    out: dict[str, Path] = {}
    try:
        with os.scandir(folder) as it:
            for item in it:
                period = parse_filename(item.name)
                if period is not None and item.is_file():
                    out[period.name] = Path(item.path)
    except FileNotFoundError:
        return {}
    return out


def fill_if_empty(paths: LibraryPaths, settings: Settings, db: Database, path: Path) -> bool:
    """Fill an empty ``YYYY-MM-DD.md`` / ``YYYY-Www.md`` of the journal folder with its template.

    For the mount (after ``release`` of a file it created empty) and the watcher.
    A note the library has seen with content is never filled (the user emptied
    it). ``db`` may be read-only. Returns True when the template was written.
    """
    path = Path(path)
    period = parse_filename(path.name)
    rel = _relpath(journal_folder(paths, settings), path)
    if period is None or rel is None or jdb.had_content(db, rel):
        return False
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if st.st_size != 0:
        return False
    try:
        return write_if_empty(path, render_entry(period, period_photos(db, period)))
    except OSError as exc:
        log.warning("cannot fill the journal template %s: %s", path, exc)
        return False


def record_file(db: Database, folder: Path, path: Path) -> jdb.EntryRow | None:
    """Read one note and record it with the photos its body links to. None if it is not a note."""
    rel = _relpath(folder, path)
    if rel is None:
        return None
    try:
        st = os.stat(path)
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as fh:
            data = fh.read(MAX_ENTRY_BYTES + 1)
    except FileNotFoundError:
        jdb.forget_entries(db, [rel])
        return None
    file_ids: list[int] = []
    if len(data) > MAX_ENTRY_BYTES:
        log.warning("%s is larger than %d bytes; its links are not read", path, MAX_ENTRY_BYTES)
    else:
        _, body = split_front_matter(data.decode("utf-8", "replace"))
        refs = photo_refs(body)
        file_ids = [fid for fid in resolve_refs(db, refs) if fid is not None]
    stem = rel.rsplit(b"/", 1)[-1][:-3].decode("utf-8", "replace")
    period = parse_filename(os.fsdecode(rel.rsplit(b"/", 1)[-1]))
    jdb.record_entry(
        db,
        relpath=rel,
        name=stem,
        period=period.name if period else None,
        period_start=period.start.isoformat() if period else None,
        period_end=period.end.isoformat() if period else None,
        mtime_ns=st.st_mtime_ns,
        size=st.st_size,
        file_ids=file_ids,
    )
    return jdb.get_entry(db, rel)


def _has_unresolved(db: Database, rel: bytes, path: Path) -> bool:
    entry = jdb.get_entry(db, rel)
    if entry is None or entry.size > MAX_ENTRY_BYTES:
        return False
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    return len(photo_refs(split_front_matter(text)[1])) > entry.mentions


def journal_index_stage(db: Database, paths: LibraryPaths, settings: Settings, progress: object = None) -> dict:
    """A later stage of ``gallerfs index`` (``indexer.run.LATER_STAGES``): bring the journal up to date."""
    report = sync_journal(paths, settings, db, refresh_unresolved=True)
    return {"filled": len(report.filled), "recorded": len(report.recorded), "forgotten": len(report.forgotten)}


def on_journal_file_event(paths: LibraryPaths, settings: Settings, db: Database, path: Path) -> str:
    """Handle a created, changed, moved-to or deleted path under the journal folder.

    Called by the watcher (``db`` is the writer). Returns what was done:
    'filled' (an empty period file got its template, and was recorded), 'recorded',
    'forgotten' (the note is gone), or 'ignored' (not a journal note).
    """
    folder = journal_folder(paths, settings)
    path = Path(path)
    rel = _relpath(folder, path)
    if rel is None:
        return "ignored"
    if not os.path.lexists(path):
        if jdb.get_entry(db, rel) is not None:
            jdb.forget_entries(db, [rel])
            return "forgotten"
        return "ignored"
    filled = fill_if_empty(paths, settings, db, path)
    if db.readonly:
        return "filled" if filled else "ignored"
    entry = record_file(db, folder, path)
    if filled:
        return "filled"
    return "recorded" if entry is not None else "ignored"


def sync_journal(
    paths: LibraryPaths, settings: Settings, db: Database, *, fill_empty: bool = True, force: bool = False,
    refresh_unresolved: bool = False,
) -> SyncReport:
    """Re-scan the journal folder: fill empty period files, record changed notes, forget removed ones.

    ``force`` re-reads every note; ``refresh_unresolved`` re-reads the unchanged
    notes that link to more photos than were found when they were read (after
    an index, links to newly indexed photos resolve).
    """
    folder = journal_folder(paths, settings)
    report = SyncReport()
    known = jdb.entry_stamps(db)
    seen: set[bytes] = set()
    if folder.is_dir():
        for dirpath, dirnames, filenames in os.walk(folder, onerror=lambda e: report.errors.append(str(e))):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != PHOTOS_DIR]
            for filename in filenames:
                path = Path(dirpath) / filename
                rel = _relpath(folder, path)
                if rel is None:
                    continue
                try:
                    st = os.stat(path)
                except OSError as exc:
                    report.errors.append(f"{path}: {exc.strerror}")
                    continue
                seen.add(rel)
                shown = os.fsdecode(rel)
                if fill_empty and st.st_size == 0 and fill_if_empty(paths, settings, db, path):
                    report.filled.append(shown)
                    st = os.stat(path)
                if not force and known.get(rel) == (st.st_mtime_ns, st.st_size):
                    if not (refresh_unresolved and _has_unresolved(db, rel, path)):
                        report.unchanged += 1
                        continue
                try:
                    if record_file(db, folder, path) is not None:
                        report.recorded.append(shown)
                except OSError as exc:
                    report.errors.append(f"{path}: {exc.strerror}")
    gone = [rel for rel in known if rel not in seen]
    if gone:
        jdb.forget_entries(db, gone)
        report.forgotten.extend(os.fsdecode(r) for r in gone)
    for err in report.errors:
        log.warning("journal: %s", err)
    return report
