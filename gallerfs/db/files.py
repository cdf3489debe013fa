"""Files and their phase-2 results: the writes the indexer makes, and the reads it needs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple, NewType, Sequence

from gallerfs.db.connection import Database

FileId = NewType("FileId", int)


class ScannedFile(NamedTuple):
    """What phase 1 learns about a file from its directory entry (a tuple: the walk makes one per file)."""

    relpath: bytes
    kind: str
    size: int
    mtime_ns: int
    ctime_ns: int
    device: int
    inode: int

    @property
    def dir(self) -> bytes:
        return self.relpath.rpartition(b"/")[0]

    @property
    def name(self) -> bytes:
        return self.relpath.rpartition(b"/")[2]


@dataclass(frozen=True)
class IndexedFile:
    """A file's row as the indexer reads it: where it is, how it was last seen on disk, and its phase-2
    state. (The mount lists ``gallerfs.db.tree.IndexedFile``, the lighter row of a library file.)"""

    id: FileId
    source_id: int
    relpath: bytes
    kind: str
    size: int
    mtime_ns: int
    device: int
    inode: int
    state: str
    content_hash: str | None


_FILE_COLUMNS = "id, source_id, relpath, kind, size, mtime_ns, device, inode, state, content_hash"

METADATA_COLUMNS = (
    "taken_at", "utc_offset", "taken_source", "sort_time", "make", "model", "lens", "f_number",
    "exposure_time", "iso", "focal_length", "width", "height", "orientation", "latitude", "longitude",
    "altitude", "duration", "format", "mime", "extra",
)  # fmt: skip


def get_file(db: Database, file_id: int) -> IndexedFile | None:
    rows = db.tuples(f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,))
    return IndexedFile(*rows[0]) if rows else None


def file_by_path(db: Database, source_id: int, relpath: bytes) -> IndexedFile | None:
    rows = db.tuples(f"SELECT {_FILE_COLUMNS} FROM files WHERE source_id = ? AND relpath = ?", (source_id, relpath))
    return IndexedFile(*rows[0]) if rows else None


def files_with_inode(db: Database, device: int, inode: int) -> list[IndexedFile]:
    return [IndexedFile(*r) for r in db.tuples(
        f"SELECT {_FILE_COLUMNS} FROM files WHERE device = ? AND inode = ?", (device, inode))]  # fmt: skip


def count_files(db: Database, source_id: int) -> int:
    return int(db.value("SELECT count(*) FROM files WHERE source_id = ?", (source_id,)))


def count_all_files(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM files"))


# -- phase 1 -------------------------------------------------------------------

_INSERT_COLUMNS = "source_id, relpath, dir, name, kind, size, mtime_ns, ctime_ns, device, inode, first_seen_at"


def insert_new(db: Database, source_id: int, entries: Sequence[ScannedFile]) -> None:
    """Insert files never seen before (first walk of a source).

    The rows go through a scratch table and into files in one statement: the CHECK constraints of files
    (``kind IN (...)``, ``state IN (...)``) build a lookup table each time a statement runs, which cost
    more than the rest of an insert when every row was a statement of its own."""
    if not entries:
        return
    now = time.time()
    db.execute(f"CREATE TEMP TABLE IF NOT EXISTS insert_batch ({_INSERT_COLUMNS})")
    db.executemany(
        f"INSERT INTO insert_batch ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        # (source_id, relpath, dir, name, kind, size, mtime_ns, ctime_ns, device, inode, now): ScannedFile's
        # fields in column order, spliced without a call per row (rpartition's [::2] is (dir, name)).
        [(source_id, e[0], *e[0].rpartition(b"/")[::2], *e[1:], now) for e in entries],
    )  # fmt: skip
    try:
        db.execute(
            f"INSERT INTO files ({_INSERT_COLUMNS}) SELECT {_INSERT_COLUMNS} FROM insert_batch ORDER BY rowid "
            "ON CONFLICT (source_id, relpath) DO NOTHING"
        )
    finally:
        db.execute("DELETE FROM insert_batch")


def upsert_scanned(db: Database, source_id: int, entry: ScannedFile) -> tuple[FileId, bool]:
    """Record one file seen on disk; returns (id, needs phase 2).

    A file whose size or mtime changed goes back to 'pending' so phase 2 redoes it.
    """
    row = db.tuples(
        "SELECT id, size, mtime_ns, state FROM files WHERE source_id = ? AND relpath = ?", (source_id, entry.relpath)
    )
    if not row:
        insert_new(db, source_id, [entry])
        return FileId(db.last_rowid()), True
    file_id, size, mtime_ns, state = row[0]
    if size != entry.size or mtime_ns != entry.mtime_ns:
        mark_changed(db, file_id, entry)
        return FileId(file_id), True
    db.execute("UPDATE files SET device = ?, inode = ? WHERE id = ?", (entry.device, entry.inode, file_id))
    return FileId(file_id), state == "pending"


def mark_changed(db: Database, file_id: int, entry: ScannedFile) -> None:
    """The file's content changed: keep its id (albums, favourites), redo phase 2."""
    db.execute(
        "UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, device = ?, inode = ?, kind = ?, state = 'pending', "
        "error = NULL, content_hash = NULL, partial_hash = NULL, phash = NULL, dhash = NULL, attempts = 0 "
        "WHERE id = ?",
        (entry.size, entry.mtime_ns, entry.ctime_ns, entry.device, entry.inode, entry.kind, file_id),
    )


def move_file(db: Database, file_id: int, source_id: int, entry: ScannedFile) -> None:
    """The file moved (same inode, or same content): keep the row and everything that points at it."""
    db.execute("DELETE FROM files WHERE source_id = ? AND relpath = ? AND id != ?", (source_id, entry.relpath, file_id))
    db.execute(
        "UPDATE files SET source_id = ?, relpath = ?, dir = ?, name = ?, device = ?, inode = ?, ctime_ns = ? "
        "WHERE id = ?",
        (source_id, entry.relpath, entry.dir, entry.name, entry.device, entry.inode, entry.ctime_ns, file_id),
    )
    row = db.tuples("SELECT size, mtime_ns FROM files WHERE id = ?", (file_id,))
    if row and (row[0][0] != entry.size or row[0][1] != entry.mtime_ns):
        mark_changed(db, file_id, entry)


def move_folder(db: Database, source_id: int, old_dir: bytes, new_dir: bytes) -> int:
    """A folder was renamed or moved inside a source: rewrite the paths of everything under it."""
    old_prefix, new_prefix = old_dir + b"/", new_dir + b"/"
    rows = db.tuples(
        "SELECT id, relpath FROM files WHERE source_id = ? AND substr(relpath, 1, ?) = ?",
        (source_id, len(old_prefix), old_prefix),
    )
    for file_id, relpath in rows:
        new_rel = new_prefix + relpath[len(old_prefix):]
        db.execute(
            "UPDATE files SET relpath = ?, dir = ?, name = ? WHERE id = ?",
            (new_rel, new_rel.rpartition(b"/")[0], new_rel.rpartition(b"/")[2], file_id),
        )
    return len(rows)


def delete_files(db: Database, file_ids: Iterable[int]) -> int:
    ids = list(file_ids)
    db.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in ids])
    return len(ids)


def delete_under(db: Database, source_id: int, relpath: bytes) -> list[FileId]:
    """Delete the file at relpath, or every file under the folder relpath; returns their ids."""
    prefix = relpath + b"/"
    ids = [r[0] for r in db.tuples(
        "SELECT id FROM files WHERE source_id = ? AND (relpath = ? OR substr(relpath, 1, ?) = ?)",
        (source_id, relpath, len(prefix), prefix),
    )]  # fmt: skip
    delete_files(db, ids)
    return [FileId(i) for i in ids]


# -- secondary indexes a first walk builds at its end -------------------------

# Indexes of files that serve phase 2, duplicates, the journal and the watcher, not the walk itself nor
# the mount's folder listings (files_by_dir and the (source_id, relpath) key stay in place).
DEFERRABLE_INDEXES = ("files_by_dir_size", "files_by_inode", "files_by_mtime", "files_by_name", "files_by_size",
                      "files_by_state")  # fmt: skip


def defer_indexes(db: Database) -> list[str]:
    """Drop the deferrable indexes of files, keeping their definitions in deferred_indexes so that
    restore_deferred_indexes (or the next scan, after a crash) builds them again. Call inside a write
    transaction; returns the names dropped."""
    marks = ",".join("?" * len(DEFERRABLE_INDEXES))
    rows = db.tuples(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'files' AND sql IS NOT NULL "
        f"AND name IN ({marks}) ORDER BY name",
        DEFERRABLE_INDEXES,
    )
    for name, sql in rows:
        db.execute("INSERT OR REPLACE INTO deferred_indexes (name, sql) VALUES (?, ?)", (name, sql))
        db.execute(f'DROP INDEX "{name}"')
    return [name for name, _ in rows]


def deferred_index_names(db: Database) -> list[str]:
    return [r[0] for r in db.tuples("SELECT name FROM deferred_indexes ORDER BY name")]


def restore_deferred_indexes(db: Database) -> list[str]:
    """Build every index a walk dropped, one short transaction each; returns the names built.

    Safe to call at any time and from any writer: an index another process restored meanwhile is skipped."""
    restored = []
    for name in deferred_index_names(db):
        with db.transaction():
            row = db.tuples("SELECT sql FROM deferred_indexes WHERE name = ?", (name,))
            if not row:
                continue
            if db.value("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)) is None:
                db.execute(row[0][0])
            db.execute("DELETE FROM deferred_indexes WHERE name = ?", (name,))
        restored.append(name)
    return restored


# -- reconciling a walk with the index -------------------------------------

def begin_walk(db: Database) -> None:
    """Scratch tables for one walk: what was seen, what is new, and the batch being recorded."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS walk_seen (relpath BLOB PRIMARY KEY) WITHOUT ROWID")
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS walk_new (relpath BLOB PRIMARY KEY, kind TEXT, size INTEGER, "
        "mtime_ns INTEGER, ctime_ns INTEGER, device INTEGER, inode INTEGER) WITHOUT ROWID"
    )
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS walk_batch (relpath BLOB, kind TEXT, size INTEGER, mtime_ns INTEGER, "
        "ctime_ns INTEGER, device INTEGER, inode INTEGER)"
    )
    db.execute("DELETE FROM walk_seen")
    db.execute("DELETE FROM walk_new")
    db.execute("DELETE FROM walk_batch")


def record_walk_batch(db: Database, source_id: int, entries: Sequence[ScannedFile]) -> tuple[int, int]:
    """Note a batch of walked files: known ones are updated in place, new ones staged.

    Returns (files whose content changed, rows of files written): readers need telling only when the
    second is not 0, since what is staged lives in this connection's temporary tables. The comparison
    with the index runs in SQLite: only the files that are new or differ come back to Python."""
    if not entries:
        return 0, 0
    db.executemany("INSERT INTO walk_batch VALUES (?, ?, ?, ?, ?, ?, ?)", entries)  # a ScannedFile is its row
    try:
        db.execute("INSERT OR IGNORE INTO walk_seen (relpath) SELECT relpath FROM walk_batch")
        differing = db.tuples(
            "SELECT b.relpath, b.kind, b.size, b.mtime_ns, b.ctime_ns, b.device, b.inode, f.id, f.size, f.mtime_ns "
            "FROM walk_batch b LEFT JOIN files f ON f.source_id = ? AND f.relpath = b.relpath "
            "WHERE f.id IS NULL OR f.size IS NOT b.size OR f.mtime_ns IS NOT b.mtime_ns "
            "OR f.device IS NOT b.device OR f.inode IS NOT b.inode ORDER BY b.rowid",
            (source_id,),
        )
    finally:
        db.execute("DELETE FROM walk_batch")
    changed = relocated = 0
    for row in differing:
        e, (file_id, size, mtime_ns) = ScannedFile(*row[:7]), row[7:]
        if file_id is None:
            db.execute("INSERT OR REPLACE INTO walk_new VALUES (?, ?, ?, ?, ?, ?, ?)", e)
        elif size != e.size or mtime_ns != e.mtime_ns:
            mark_changed(db, file_id, e)
            changed += 1
        else:  # same file, another device or inode number: e.g. a drive remounted with another device number
            db.execute("UPDATE files SET device = ?, inode = ? WHERE id = ?", (e.device, e.inode, file_id))
            relocated += 1
    return changed, changed + relocated


def unseen_files(db: Database, source_id: int) -> list[IndexedFile]:
    """Indexed files of the source that the walk did not find."""
    return [IndexedFile(*r) for r in db.tuples(
        f"SELECT {_FILE_COLUMNS} FROM files WHERE source_id = ? AND relpath NOT IN (SELECT relpath FROM walk_seen)",
        (source_id,),
    )]  # fmt: skip


def staged_new(db: Database) -> list[ScannedFile]:
    return [ScannedFile(*r) for r in db.tuples(
        "SELECT relpath, kind, size, mtime_ns, ctime_ns, device, inode FROM walk_new ORDER BY relpath"
    )]  # fmt: skip


def end_walk(db: Database) -> None:
    db.execute("DELETE FROM walk_seen")
    db.execute("DELETE FROM walk_new")


# -- phase 2 -------------------------------------------------------------------

def pending_batch(db: Database, after_id: int, limit: int) -> list[tuple[FileId, int, bytes, str, int, int]]:
    """(id, source_id, relpath, kind, size, attempts) of files waiting for phase 2 on online sources, by id."""
    return db.tuples(
        "SELECT f.id, f.source_id, f.relpath, f.kind, f.size, f.attempts FROM files f JOIN sources s ON s.id = f.source_id "
        "WHERE f.state = 'pending' AND s.online = 1 AND f.id > ? ORDER BY f.id LIMIT ?",
        (after_id, limit),
    )


def count_pending(db: Database) -> int:
    return int(db.value(
        "SELECT count(*) FROM files f JOIN sources s ON s.id = f.source_id WHERE f.state = 'pending' AND s.online = 1"
    ))  # fmt: skip


def processed_online(db: Database) -> list[FileId]:
    """Ids of files whose phase 2 is done, on online sources, ascending (those should have thumbnails)."""
    return [FileId(r[0]) for r in db.tuples(
        "SELECT f.id FROM files f JOIN sources s ON s.id = f.source_id WHERE f.state = 'done' AND s.online = 1 "
        "ORDER BY f.id"
    )]  # fmt: skip


def requeue(db: Database, file_ids: Sequence[int]) -> None:
    """Put done files back in phase 2's queue (their thumbnails are missing, e.g. after an import)."""
    db.executemany("UPDATE files SET state = 'pending', attempts = 0 WHERE id = ? AND state = 'done'",
                   [(i,) for i in file_ids])  # fmt: skip


def retry_failed(db: Database) -> int:
    """Put every file whose phase 2 failed back in the queue."""
    with db.transaction():
        db.execute("UPDATE files SET state = 'pending', attempts = 0 WHERE state = 'error'")
        return db.changes()


def mark_attempt(db: Database, file_ids: Sequence[int]) -> None:
    """Count a phase-2 run of these files before it starts (resumption is then auditable)."""
    db.executemany("UPDATE files SET attempts = attempts + 1 WHERE id = ?", [(i,) for i in file_ids])


def unmark_attempt(db: Database, file_ids: Sequence[int]) -> None:
    """Take back the attempt of files whose run was stopped in an orderly way (not their fault)."""
    db.executemany("UPDATE files SET attempts = max(attempts - 1, 0) WHERE id = ?", [(i,) for i in file_ids])


def store_result(
    db: Database,
    file_id: int,
    *,
    metadata: dict[str, Any] | None,
    content_hash: str | None,
    partial_hash: str | None,
    phash: int | None,
    dhash: int | None,
    error: str | None,
    expected_size: int | None = None,
    kind: str | None = None,
) -> bool:
    """Record phase 2 for one file. Skipped (returns False) if the file changed or vanished meanwhile.

    kind: what the content turned out to be, when the name said otherwise (None: keep the kind)."""
    current = db.tuples("SELECT size, state FROM files WHERE id = ?", (file_id,))
    if not current or (expected_size is not None and current[0][0] != expected_size):
        return False
    if metadata is not None:
        values = [metadata.get(c) for c in METADATA_COLUMNS]
        extra_index = METADATA_COLUMNS.index("extra")
        if values[extra_index] is not None and not isinstance(values[extra_index], str):
            values[extra_index] = json.dumps(values[extra_index], default=str)
        db.execute(
            f"INSERT OR REPLACE INTO metadata (file_id, {', '.join(METADATA_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(METADATA_COLUMNS))})",
            (file_id, *values),
        )
    db.execute(
        "UPDATE files SET state = ?, error = ?, content_hash = ?, partial_hash = ?, phash = ?, dhash = ?, "
        "indexed_at = ?, kind = coalesce(?, kind) WHERE id = ?",
        ("error" if error else "done", error, content_hash, partial_hash, phash, dhash, time.time(), kind, file_id),
    )
    return True


def record_failure(
    db: Database, *, source_id: int | None, file_id: int | None, job_id: int | None, path: bytes, stage: str, error: str
) -> None:
    if file_id is not None:
        db.execute("DELETE FROM failures WHERE file_id = ? AND stage = ?", (file_id, stage))
    elif source_id is not None:
        db.execute("DELETE FROM failures WHERE source_id = ? AND path = ? AND stage = ?", (source_id, path, stage))
    db.execute(
        "INSERT INTO failures (source_id, file_id, job_id, path, stage, error, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (source_id, file_id, job_id, path, stage, error, time.time()),
    )


def clear_failures(db: Database, file_id: int) -> None:
    db.execute("DELETE FROM failures WHERE file_id = ?", (file_id,))


def clear_walk_failures(db: Database, source_id: int) -> None:
    """Forget the folder and path problems of the last walk (files marked unreadable keep their mark)."""
    db.execute("DELETE FROM failures WHERE source_id = ? AND file_id IS NULL AND stage = 'walk'", (source_id,))


def mark_unreadable(db: Database, *, source_id: int, file_id: int, job_id: int | None, path: bytes, error: str) -> None:
    """An indexed file the walk could not stat (EACCES, EIO, ...): its row stays, with this mark."""
    db.execute("DELETE FROM failures WHERE source_id = ? AND path = ? AND stage = 'walk' AND file_id IS NULL",
               (source_id, path))  # fmt: skip
    record_failure(db, source_id=source_id, file_id=file_id, job_id=job_id, path=path, stage="walk", error=error)


def clear_unreadable_seen(db: Database, source_id: int) -> int:
    """Drop the unreadable mark of every file the current walk saw (it is readable again)."""
    db.execute(
        "DELETE FROM failures WHERE source_id = ? AND stage = 'walk' AND file_id IS NOT NULL AND EXISTS "
        "(SELECT 1 FROM files f JOIN walk_seen w ON w.relpath = f.relpath WHERE f.id = failures.file_id)",
        (source_id,),
    )
    return db.changes()


def failures(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    return db.rows(
        "SELECT fl.id, s.name AS source, fl.path, fl.stage, fl.error, fl.at, fl.file_id, fl.job_id "
        "FROM failures fl LEFT JOIN sources s ON s.id = fl.source_id ORDER BY fl.id DESC LIMIT ?",
        (limit,),
    )


def metadata_of(db: Database, file_id: int) -> dict[str, Any] | None:
    return db.row("SELECT * FROM metadata WHERE file_id = ?", (file_id,))


def counts(db: Database) -> dict[str, Any]:
    """Counts for 'gallerfs status': by kind and state, with bytes."""
    by_kind = {k: {"files": n, "bytes": b or 0} for k, n, b in db.tuples(
        "SELECT kind, count(*), sum(size) FROM files GROUP BY kind ORDER BY kind")}  # fmt: skip
    by_state = dict(db.tuples("SELECT state, count(*) FROM files GROUP BY state"))
    offline = int(db.value(
        "SELECT count(*) FROM files f JOIN sources s ON s.id = f.source_id WHERE s.online = 0"))  # fmt: skip
    return {
        "files": int(db.value("SELECT count(*) FROM files")),
        "bytes": int(db.value("SELECT coalesce(sum(size), 0) FROM files")),
        "by_kind": by_kind,
        "by_state": {s: by_state.get(s, 0) for s in ("pending", "done", "error")},
        "offline_files": offline,
        "with_gps": int(db.value("SELECT count(*) FROM metadata WHERE latitude IS NOT NULL")),
        "albums": int(db.value("SELECT count(*) FROM albums")),
        "favourites": int(db.value("SELECT count(*) FROM favourites")),
        "failures": int(db.value("SELECT count(*) FROM failures")),
    }


def files_per_source(db: Database) -> dict[int, int]:
    return dict(db.tuples("SELECT source_id, count(*) FROM files GROUP BY source_id"))
