"""CLIP vectors: the embedding space, the files still to embed, storing and reading vectors.

Vectors are unit-length float32 in the sqlite-vec ``vec0`` table
``vec_embeddings`` (rowid = file id, cosine distance). ``embeddings`` (a plain
table with a foreign key to ``files``) records per file whether it was
embedded and from which version of the file; deleting that row (directly or by
the cascade from ``files``) deletes the vector through a trigger.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from gallerfs.db import analysis
from gallerfs.db.analysis import FileTask
from gallerfs.db.connection import Database

log = logging.getLogger(__name__)

VEC_TABLE = "vec_embeddings"
_IN_CHUNK = 900  # bound parameters per IN (...) list


@dataclass(frozen=True)
class Space:
    model: str
    dim: int
    created_at: float


@dataclass(frozen=True)
class EmbedTask(FileTask):
    kind: str = "image"  # image, raw, video
    processed: bool = False  # phase 2 is done for this version of the file (its preview thumbnail is current)
    online: bool = True  # the source is online (the original can be read)


def space(db: Database) -> Space | None:
    rows = db.tuples("SELECT model, dim, created_at FROM embedding_space WHERE id = 1")
    if not rows or not has_vector_table(db):
        return None
    return Space(*rows[0])


def has_vector_table(db: Database) -> bool:
    return bool(db.value("SELECT count(*) FROM sqlite_master WHERE name = ?", (VEC_TABLE,)) == 1)


def ensure_space(db: Database, model: str, dim: int) -> bool:
    """Make the vector table match the model; returns True when it was (re)created (all files redone)."""
    columns = {r[1] for r in db.tuples("PRAGMA table_info(embedding_space)")}
    if "version" not in columns:  # libraries made by the first draft of m0002 (same day)
        with db.transaction():
            db.execute("ALTER TABLE embedding_space ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
    current = space(db)
    if current is not None and current.model == model and current.dim == dim:
        return False
    with db.transaction():
        db.execute(f"DROP TRIGGER IF EXISTS {VEC_TABLE}_follow")
        db.execute(f"DROP TABLE IF EXISTS {VEC_TABLE}")
        db.execute("DELETE FROM embeddings")
        db.execute(
            f"CREATE VIRTUAL TABLE {VEC_TABLE} USING vec0(file_id INTEGER PRIMARY KEY, "
            f"embedding float[{int(dim)}] distance_metric=cosine)"
        )
        db.execute(
            f"CREATE TRIGGER {VEC_TABLE}_follow AFTER DELETE ON embeddings BEGIN "
            f"DELETE FROM {VEC_TABLE} WHERE file_id = OLD.file_id; "
            "UPDATE embedding_space SET version = version + 1 WHERE id = 1; END"
        )
        db.execute(
            "INSERT OR REPLACE INTO embedding_space (id, model, dim, created_at, version) VALUES (1, ?, ?, ?, 0)",
            (model, int(dim), time.time()),
        )
    return True


# To do: photos and videos whose phase 2 is done (embedded from the preview thumbnail, even while
# their source is offline), and photos on online sources not processed yet (from the original).
_TODO_WHERE = (
    "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN embeddings e ON e.file_id = f.id "
    f"WHERE {analysis.KINDS_IN} AND (f.state = 'done' OR (f.kind = 'image' AND s.online = 1)) "
    f"AND {analysis.needs('e')}"
)


def count_todo(db: Database) -> int:
    return int(db.value(f"SELECT count(*) {_TODO_WHERE}"))


def todo_batch(db: Database, after_id: int, limit: int) -> list[EmbedTask]:
    """Files not embedded yet (or changed since), by id."""
    rows = db.tuples(
        f"SELECT f.id, f.source_id, f.relpath, s.path, f.size, f.mtime_ns, f.kind, f.state = 'done', s.online "
        f"{_TODO_WHERE} AND f.id > ? "
        "ORDER BY f.id LIMIT ?",
        (after_id, limit),
    )
    return [EmbedTask(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8])) for r in rows]


def store(db: Database, done: Sequence[tuple[EmbedTask, np.ndarray]], failed: Sequence[tuple[EmbedTask, str]]) -> int:
    """Record a batch; call inside a transaction. Files that changed meanwhile are left for next time."""
    now = time.time()
    stored = 0
    for task, vector in done:
        if not analysis.unchanged(db, task):
            continue
        db.execute(f"DELETE FROM {VEC_TABLE} WHERE file_id = ?", (task.file_id,))
        db.execute(
            f"INSERT INTO {VEC_TABLE} (file_id, embedding) VALUES (?, ?)",
            (task.file_id, np.ascontiguousarray(vector, dtype=np.float32).tobytes()),
        )
        analysis.mark(db, "embeddings", task, None, embedded_at=now)
        stored += 1
    for task, error in failed:
        if not analysis.unchanged(db, task):
            continue
        db.execute(f"DELETE FROM {VEC_TABLE} WHERE file_id = ?", (task.file_id,))
        analysis.mark(db, "embeddings", task, error, embedded_at=now)
        stored += 1
    if stored:
        db.execute("UPDATE embedding_space SET version = version + 1 WHERE id = 1")
    return stored


def vector_of(db: Database, file_id: int) -> np.ndarray | None:
    if not has_vector_table(db):
        return None
    rows = db.tuples(f"SELECT embedding FROM {VEC_TABLE} WHERE file_id = ?", (file_id,))
    return np.frombuffer(rows[0][0], dtype=np.float32).copy() if rows else None


def vectors_for(db: Database, file_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, [n, dim] matrix) of the given files that have a vector, in no particular order."""
    ids = list(file_ids)
    found_ids: list[int] = []
    blobs: list[bytes] = []
    if has_vector_table(db):
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for file_id, blob in db.iter_tuples(
                f"SELECT file_id, embedding FROM {VEC_TABLE} WHERE file_id IN ({marks})", chunk
            ):
                found_ids.append(file_id)
                blobs.append(blob)
    if not blobs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    return np.array(found_ids, dtype=np.int64), matrix


def done_ids(db: Database) -> list[int]:
    """Ids of every file with a stored vector, ascending."""
    return [int(r[0]) for r in db.iter_tuples("SELECT file_id FROM embeddings WHERE state = 'done' ORDER BY file_id")]


def counts(db: Database) -> dict[str, int]:
    done = int(db.value("SELECT count(*) FROM embeddings WHERE state = 'done'"))
    failed = int(db.value("SELECT count(*) FROM embeddings WHERE state = 'error'"))
    return {"embedded": done, "failed": failed, "todo": count_todo(db)}


def version(db: Database) -> tuple[Any, ...]:
    """Changes whenever a vector is added, replaced or removed (one row read)."""
    rows = db.tuples("SELECT model, created_at, version FROM embedding_space WHERE id = 1")
    return rows[0] if rows else (None, None, 0)


def last_embedded_at(db: Database) -> float | None:
    """When the latest vector was stored (unix time; one scan of ``embeddings``, ~0.1 s at 1M)."""
    value = db.value("SELECT max(embedded_at) FROM embeddings")
    return float(value) if value is not None else None


@contextlib.contextmanager
def read_snapshot(db: Database) -> Iterator[Database]:
    """One read transaction: every query inside sees the library as of its first read (WAL), so a version
    read with the vectors matches them, however much the embedding job writes meanwhile."""
    db.execute("BEGIN DEFERRED")
    try:
        yield db
    finally:
        db.execute("COMMIT")


def all_vectors(db: Database) -> tuple[np.ndarray, np.ndarray]:
    """(ids, [n, dim] matrix) of every stored vector, in the order vec0 keeps them.

    Read from vec0's own chunk tables (1,024 vectors a row): 0.7 s at 1M vectors here, where
    scanning the virtual table row by row takes 21 s and twice the memory. The result is checked
    against vec0 itself (the count, and a few vectors looked up through the virtual table); a
    layout this code does not know (another sqlite-vec version) falls back to the plain scan.
    """
    if not has_vector_table(db):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    try:
        found = _vectors_from_chunks(db)
    except Exception as exc:  # apsw.SQLError for a missing shadow table, ValueError for an odd layout
        log.warning("reading vec0 chunks failed (%s); scanning the vector table instead", exc)
        found = None
    return found if found is not None else _scan_vectors(db)


def _dim(db: Database) -> int | None:
    rows = db.tuples("SELECT dim FROM embedding_space WHERE id = 1")
    return int(rows[0][0]) if rows else None


def _vectors_from_chunks(db: Database) -> tuple[np.ndarray, np.ndarray] | None:
    dim = _dim(db)
    count = int(db.value(f"SELECT count(*) FROM {VEC_TABLE}"))
    if dim is None:
        return None
    ids = np.empty(count, dtype=np.int64)
    matrix = np.empty((count, dim), dtype=np.float32)
    filled = 0
    for size, validity, rowids, vectors in db.iter_tuples(
        # A correlated lookup: a join makes SQLite sort the 2 MB blobs through a temporary b-tree (10x slower).
        f"SELECT c.size, c.validity, c.rowids, (SELECT v.vectors FROM {VEC_TABLE}_vector_chunks00 v "
        f"WHERE v.rowid = c.chunk_id) FROM {VEC_TABLE}_chunks c ORDER BY c.chunk_id"
    ):
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[:size].astype(bool)
        chunk_ids = np.frombuffer(rowids, dtype=np.int64)[:size][valid]
        chunk = np.frombuffer(vectors, dtype=np.float32).reshape(-1, dim)[:size][valid]
        end = filled + len(chunk_ids)
        if end > count or len(chunk) != len(chunk_ids):
            _layout_mismatch("more vectors in the chunks than in the table")
            return None
        ids[filled:end], matrix[filled:end] = chunk_ids, chunk
        filled = end
    if filled != count:
        _layout_mismatch(f"{filled} vectors in the chunks, {count} in the table")
        return None
    for row in sorted({0, count // 3, count // 2, count - 1}) if count else ():
        stored = db.tuples(f"SELECT embedding FROM {VEC_TABLE} WHERE file_id = ?", (int(ids[row]),))
        if not stored or stored[0][0] != matrix[row].tobytes():
            _layout_mismatch(f"the vector of file {int(ids[row])} differs")
            return None
    return ids, matrix


def _layout_mismatch(why: str) -> None:
    log.warning("vec0 chunk layout not understood (%s); scanning the vector table instead", why)
    return None


def _scan_vectors(db: Database) -> tuple[np.ndarray, np.ndarray]:
    ids: list[int] = []
    blobs: list[bytes] = []
    for file_id, blob in db.iter_tuples(f"SELECT file_id, embedding FROM {VEC_TABLE}"):
        ids.append(file_id)
        blobs.append(blob)
    if not blobs:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
    return np.array(ids, dtype=np.int64), np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
