"""Read-only queries behind the web viewer's pages: the filtered grid, neighbours, thumbnail keys.

The grid lists every library file (indexed or not) newest first, by the same
``coalesce(sort_time, mtime)`` key that search uses to break ties, and applies
the filters through ``search.filter_clauses`` — the one translation of filters
to SQL. ``ordered_ids`` gives a whole view's order in one query (about 40 ms
for 100,000 files), which the viewer keeps per library generation; pages of
it are then described by ``items_by_ids``, whatever their offset, and a photo's previous and next
in a view are found in it by its ``sort_key``.
"""

from __future__ import annotations

import json
from array import array
from dataclasses import dataclass
from typing import Any

from gallerfs.db.connection import Database
from gallerfs.db.search import FilterSpec, filter_clauses

_FROM = (
    "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN metadata m ON m.file_id = f.id "
    "LEFT JOIN favourites fv ON fv.file_id = f.id"
)
_KEY = "coalesce(m.sort_time, f.mtime_ns / 1e9)"
# A thumbnail's cache key: the content hash once phase 2 ran, else the file's size and mtime.
_THUMB_KEY = "coalesce(f.content_hash, f.size || '-' || f.mtime_ns)"


@dataclass(frozen=True)
class GridItem:
    id: int
    kind: str
    name: str  # display name (undecodable bytes as U+FFFD)
    taken_at: str | None
    online: bool
    favourite: bool
    thumb_key: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "taken_at": self.taken_at,
            "online": self.online, "favourite": self.favourite, "thumb_key": self.thumb_key,
        }  # fmt: skip


_ITEM_COLS = f"f.id, f.kind, f.name, m.taken_at, s.online, fv.file_id IS NOT NULL, {_THUMB_KEY}"


def _item(r: tuple[Any, ...]) -> GridItem:
    return GridItem(int(r[0]), str(r[1]), bytes(r[2]).decode("utf-8", "replace"), r[3], bool(r[4]), bool(r[5]), str(r[6]))


def _where(spec: FilterSpec) -> tuple[str, list[Any]]:
    clauses, params = filter_clauses(spec)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def sort_key(db: Database, file_id: int) -> float | None:
    """A file's place in the grid's order (with its id for ties), or None when there is no such file."""
    key = db.value(f"SELECT {_KEY} FROM files f LEFT JOIN metadata m ON m.file_id = f.id WHERE f.id = ?", (file_id,))
    return None if key is None else float(key)


def thumb_key(db: Database, file_id: int) -> str | None:
    """A file's thumbnail cache key, or None when there is no such file."""
    key = db.value(f"SELECT {_THUMB_KEY} FROM files f WHERE f.id = ?", (file_id,))
    return None if key is None else str(key)


def original_info(db: Database, file_id: int) -> dict[str, Any] | None:
    """Where a file's original is and how to serve it: root, relpath, online, mime, size, mtime, key."""
    return db.row(
        f"SELECT s.path AS root, f.relpath, s.online, s.name AS source, m.mime, f.kind, f.name, {_THUMB_KEY} AS key "
        "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN metadata m ON m.file_id = f.id WHERE f.id = ?",
        (file_id,),
    )


def camera_names(db: Database, limit: int = 200) -> list[str]:
    """Distinct 'make model' strings, most common first (choices for the camera filter)."""
    rows = db.tuples(
        "SELECT trim(coalesce(make, '') || ' ' || coalesce(model, '')) AS cam, count(*) AS n FROM metadata "
        "WHERE make IS NOT NULL OR model IS NOT NULL GROUP BY cam ORDER BY n DESC, cam LIMIT ?",
        (limit,),
    )
    return [str(r[0]) for r in rows if r[0]]


def items_by_ids(db: Database, ids: list[int]) -> list[GridItem]:
    """Grid items for these ids, in the given order (search results); unknown ids are left out."""
    if not ids:
        return []
    rows = db.tuples(
        f"SELECT {_ITEM_COLS} {_FROM} WHERE f.id IN (SELECT value FROM json_each(?))",
        (json.dumps([int(i) for i in ids]),),
    )
    by_id = {item.id: item for item in map(_item, rows)}
    return [by_id[i] for i in ids if i in by_id]


def ordered_view(db: Database, spec: FilterSpec) -> tuple[list[int], array[float]]:
    """Every id passing the filters in the grid's order, with each one's sort key (doubles; a missing
    key, which sorts last, as -inf): what the viewer caches per library generation."""
    where, params = _where(spec)
    joins = "FROM files f LEFT JOIN metadata m ON m.file_id = f.id"
    ids: list[int] = []
    keys = array("d")
    for fid, key in db.iter_tuples(f"SELECT f.id, {_KEY} {joins}{where} ORDER BY {_KEY} DESC, f.id DESC", params):
        ids.append(fid)
        keys.append(float("-inf") if key is None else float(key))
    return ids, keys


def ordered_ids(db: Database, spec: FilterSpec) -> list[int]:
    """Every id passing the filters in the grid's order."""
    return ordered_view(db, spec)[0]


def bytes_per_source(db: Database) -> dict[int, int]:
    """Total size of each source's files, in bytes."""
    return {int(s): int(b or 0) for s, b in db.tuples("SELECT source_id, sum(size) FROM files GROUP BY source_id")}


def years(db: Database, spec: FilterSpec) -> list[tuple[int, int]]:
    """(year, files) of the view, newest year first — the grid's order, so the running sum of the
    counts is where each year starts in it. Years are read from the same key the grid sorts by."""
    where, params = _where(spec)
    rows = db.tuples(
        f"SELECT CAST(strftime('%Y', {_KEY}, 'unixepoch') AS INTEGER) AS y, count(*) "
        f"FROM files f LEFT JOIN metadata m ON m.file_id = f.id{where} GROUP BY y ORDER BY y DESC",
        params,
    )
    return [(int(y), int(n)) for y, n in rows if y is not None]


GROUP_FORMATS = {"month": "%Y-%m", "day": "%Y-%m-%d"}


def groups(db: Database, spec: FilterSpec, by: str) -> list[tuple[str | None, int]]:
    """(period, files) of the view, by month ('YYYY-MM') or day ('YYYY-MM-DD'), in the grid's order:
    newest first, so the running sum of the counts is where each period starts in the grid. The
    period is read from the key the grid sorts by (a photo's wall-clock time); None: no date at all."""
    where, params = _where(spec)
    rows = db.tuples(
        f"SELECT strftime('{GROUP_FORMATS[by]}', {_KEY}, 'unixepoch') AS g, count(*) "
        f"FROM files f LEFT JOIN metadata m ON m.file_id = f.id{where} GROUP BY g ORDER BY g IS NULL, g DESC",
        params,
    )
    return [(None if g is None else str(g), int(n)) for g, n in rows]


def exact_copies(db: Database, file_id: int) -> list[int]:
    """Other files with the same content (hash and size), oldest id first; none before phase 2 hashed it."""
    rows = db.tuples(
        "SELECT o.id FROM files f JOIN files o ON o.content_hash = f.content_hash AND o.size = f.size "
        "WHERE f.id = ? AND f.content_hash IS NOT NULL AND o.id != f.id ORDER BY o.id",
        (file_id,),
    )
    return [int(r[0]) for r in rows]


def near_copies(db: Database, file_id: int, rule: int) -> list[int]:
    """Other files that the duplicate finder's pixel check judged the same picture (remembered verdicts of
    this ``rule`` whose stamp still matches both files: an edited file drops out until checked again)."""
    stamp = "a.size || ':' || a.mtime_ns || ':' || b.size || ':' || b.mtime_ns"
    rows = db.tuples(
        "SELECT CASE WHEN v.file_a = ? THEN v.file_b ELSE v.file_a END AS other FROM duplicate_verdicts v "
        "JOIN files a ON a.id = v.file_a JOIN files b ON b.id = v.file_b "
        f"WHERE (v.file_a = ? OR v.file_b = ?) AND v.same = 1 AND v.rule = ? AND v.stamp = {stamp} ORDER BY other",
        (file_id, file_id, file_id, rule),
    )
    return [int(r[0]) for r in rows]
