"""What the duplicate review shows: the sets per library generation, each set as the page draws it,
and the outcome of the last action (kept for the page the action redirects to)."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gallerfs.db import duplicates as dupdb
from gallerfs.db import tree as tree_db
from gallerfs.db import viewer_queries as vq
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.indexer.thumbnails import thumbnail_path
from gallerfs.lru import LRU
from gallerfs.units import human_bytes
from gallerfs.viewer import present

if TYPE_CHECKING:
    from gallerfs.indexer.duplicates.review import Resolution
    from gallerfs.indexer.duplicates.sets import DuplicateSet
    from gallerfs.paths import LibraryPaths
    from gallerfs.viewer.library import Library

RECENT_TRASH = 10  # trashed copies listed under the review, with a Restore button each
MAX_NOTES = 64


def shown_bytes(path: bytes) -> str:
    return present.shown(os.fsdecode(path))


def shown_path(f: DupFile) -> str:
    return shown_bytes(f.path)


@dataclass(frozen=True)
class Listing:
    """The sets in review order (as ``gallerfs duplicates`` numbers them) and their ids."""

    sets: tuple[DuplicateSet, ...]
    ids: tuple[str, ...]  # the tag of MOUNT/duplicates/<tag> <name>: 8 hex digits, 16 where two sets share 8
    folders: tuple[str, ...] = ()  # the whole folder names

    def of_kind(self, kind: str) -> Listing:
        if kind == "all":
            return self
        keep = [n for n, s in enumerate(self.sets) if s.kind == kind]
        return Listing(tuple(self.sets[n] for n in keep), tuple(self.ids[n] for n in keep),
                       tuple(self.folders[n] for n in keep))  # fmt: skip

    def index_of(self, set_id: str) -> int | None:
        try:
            return self.ids.index(set_id)
        except ValueError:
            return None

    def id_after(self, set_id: str) -> str | None:
        """The set to show once this one is resolved: the next one, else the one before."""
        i = self.index_of(set_id)
        if i is None:
            return None
        if i + 1 < len(self.ids):
            return self.ids[i + 1]
        return self.ids[i - 1] if i > 0 else None

    def counts(self) -> dict[str, int]:
        exact = sum(1 for s in self.sets if s.kind == "exact")
        return {"all": len(self.sets), "exact": exact, "near": len(self.sets) - exact}


def compute_listing(db: Database, lib: Library) -> Listing:
    from gallerfs.indexer.duplicates.sets import find_sets, folder_names

    sets = find_sets(db, lib.settings)
    names = folder_names(sets)
    return Listing(tuple(sets), tuple(names[s.key].split(b" ", 1)[0].decode("ascii") for s in sets),
                   tuple(shown_bytes(names[s.key]) for s in sets))  # fmt: skip


class SetCache:
    """The sets, found once per library generation (every trash, keep and index bumps it).

    They are found on a connection of their own that may write, like 'gallerfs duplicates': the
    hashes and pixel-check verdicts learnt on the way are remembered, which makes the next time fast.
    """

    def __init__(self) -> None:
        self._by_generation: LRU[int, Listing] = LRU(2)

    def get(self, lib: Library) -> Listing:
        generation = tree_db.generation(lib.reader())

        def compute() -> Listing:
            db = Database(lib.paths.db)
            try:
                return compute_listing(db, lib)
            finally:
                db.close()

        return self._by_generation.get_or_compute(generation, compute)


@dataclass(frozen=True)
class Note:
    level: str  # 'ok', 'warn' (some copies refused) or 'error'
    lines: list[str]
    records: tuple[int, ...] = ()  # trash records an undo restores


@dataclass
class ReviewNotes:
    """Outcomes of actions, by an unguessable token the redirect carries (``?note=``), and the last
    "trash the others" of this viewer (what ``u`` undoes: its set and trash records)."""

    _notes: LRU[str, Note] = field(default_factory=lambda: LRU(MAX_NOTES))
    last_trash: tuple[str, tuple[int, ...]] | None = None

    def undoable(self, db: Database) -> tuple[str, list[int]] | None:
        """The last trashing's set id and those of its records still in the trash, if any."""
        last = self.last_trash
        if last is None:
            return None
        left = [i for i in last[1] if (r := dupdb.trash_record(db, i)) is not None and r.restored_at is None]
        return (last[0], left) if left else None

    def add(self, note: Note) -> str:
        token = secrets.token_urlsafe(9)
        self._notes.put(token, note)
        return token

    def get(self, token: str) -> Note | None:
        return self._notes.get(token) if token and len(token) <= 32 else None


def trash_note(done: Resolution) -> Note:
    lines = [f"moved {shown_path(m)} to the trash" for m, _ in done.trashed]
    lines += [f"kept {shown_path(m)}: {why}" for m, why in done.refused]
    records = tuple(outcome.record_id for _, outcome in done.trashed)
    if done.refused:
        level = "warn" if done.trashed else "error"
    else:
        level = "ok"
        freed = sum(m.size for m, _ in done.trashed)
        lines.append(f"{human_bytes(freed)} moved to the trash; kept {shown_path(done.remaining.keeper)}")
    return Note(level, lines, records)


def _date(f: DupFile) -> str:
    if f.taken_at:
        return f.taken_at.replace("T", " ")[:19]
    return present.when(f.mtime_ns / 1e9) + " (file time)"


def _bits(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return None
    return bin((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).count("1")


def describe_set(s: DuplicateSet, set_id: str, folder: str, paths: LibraryPaths, db: Database) -> dict[str, Any]:
    """The set as the review page draws it: its kind, why it matched, and each copy side by side."""
    from gallerfs.indexer.duplicates.look import RULE
    from gallerfs.indexer.duplicates.sets import only_full_resolution

    largest = only_full_resolution(s)
    keeper = s.keeper
    numbers = {m.id: n for n, m in enumerate(s.members, 1)}
    members = []
    for n, m in enumerate(s.members, 1):
        relpath = present.shown(m.relpath.decode("utf-8", "surrogateescape"))
        confirmed = [numbers[o] for o in vq.near_copies(db, m.id, RULE) if o in numbers] if s.kind == "near" else []
        members.append({
            "n": n, "id": m.id, "name": relpath.rsplit("/", 1)[-1], "source": m.source_name, "online": m.online,
            "path": shown_path(m), "size": human_bytes(m.size), "bytes": m.size,
            "dims": f"{m.width} × {m.height}" if m.width and m.height else "unknown",
            "date": _date(m), "format": m.format or "", "camera": " ".join(x for x in (m.make, m.model) if x),
            "keeper": m.id == keeper.id, "full_res": largest is not None and largest.id == m.id,
            "distance": _bits(m.phash, keeper.phash) if s.kind == "near" and m.id != keeper.id else None,
            "confirmed": confirmed,
            "has_preview": thumbnail_path(paths.thumbnails, m.id, "preview").is_file(),
            "thumb_key": vq.thumb_key(db, m.id) or "",
        })  # fmt: skip
    offline = [m for m in s.members if not m.online]
    return {
        "id": set_id, "kind": s.kind, "copies": len(s.members), "reclaimable": human_bytes(s.reclaimable),
        "keeper_chosen": s.keeper_chosen, "distance": s.distance, "members": members,
        "offline": len(offline), "folder": folder,
    }  # fmt: skip


def recent_trash(db: Database) -> list[dict[str, Any]]:
    """The latest copies gallerfs trashed that are still in the trash (from the CLI and the mount too)."""
    return [
        {"id": r.id, "original": shown_bytes(r.original_path), "source": r.source_name, "size": human_bytes(r.size),
         "when": dt.datetime.fromtimestamp(r.trashed_at).strftime("%Y-%m-%d %H:%M")}  # fmt: skip
        for r in dupdb.trash_records(db, RECENT_TRASH, in_trash_only=True)
    ]
