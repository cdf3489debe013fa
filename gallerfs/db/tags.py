"""Tags of photos: the files still to tag, storing results, and the read queries of search, mount and viewer.

Schema in ``migrations/m0020_tags.py``. A file is to do when phase 2 is done for its current version
(the tags job reads phase 2's preview, which exists for RAW files and videos and while a source is
offline) and it has no ``tagged`` row for that version and model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from gallerfs.db import analysis
from gallerfs.db.connection import Database


@dataclass(frozen=True)
class TagTask:
    file_id: int
    source_id: int
    relpath: bytes
    size: int
    mtime_ns: int


_TODO_WHERE = (
    "FROM files f LEFT JOIN tagged t ON t.file_id = f.id "
    f"WHERE {analysis.KINDS_IN} AND f.state = 'done' AND {analysis.needs('t', 't.model != ?')}"
)


def sources_with_todo(db: Database, model: str) -> list[tuple[int, int]]:
    """(source id, files to tag) for every source with work, by source id."""
    rows = db.tuples(f"SELECT f.source_id, count(*) {_TODO_WHERE} GROUP BY f.source_id ORDER BY f.source_id",
                     (model,))  # fmt: skip
    return [(int(s), int(n)) for s, n in rows]


def todo_batch(db: Database, model: str, source_id: int, after_id: int, limit: int) -> list[TagTask]:
    """Files of one source still to tag (or changed since, or tagged by another model), by id."""
    rows = db.tuples(
        f"SELECT f.id, f.source_id, f.relpath, f.size, f.mtime_ns {_TODO_WHERE} AND f.source_id = ? AND f.id > ? "
        "ORDER BY f.id LIMIT ?",
        (model, source_id, after_id, limit),
    )
    return [TagTask(*r) for r in rows]


def store(db: Database, model: str, done: Sequence[tuple[TagTask, dict[str, float]]],
          failed: Sequence[tuple[TagTask, str]]) -> int:  # fmt: skip
    """Record a batch; call inside a transaction. Files that changed meanwhile are left for next time."""
    now = time.time()
    stored = 0
    results: list[tuple[TagTask, dict[str, float], str | None]] = [(t, tags, None) for t, tags in done]
    results += [(t, {}, error) for t, error in failed]
    for task, tags, error in results:
        if not analysis.unchanged(db, task):
            continue
        db.execute("DELETE FROM tags WHERE file_id = ?", (task.file_id,))
        analysis.mark(db, "tagged", task, error, model=model, tagged_at=now)
        db.executemany("INSERT INTO tags (file_id, tag, score) VALUES (?, ?, ?)",
                       [(task.file_id, tag, float(score)) for tag, score in tags.items()])  # fmt: skip
        stored += 1
    return stored


def tags_of(db: Database, file_id: int) -> list[tuple[str, float]]:
    """A photo's tags, best first."""
    return [(str(t), float(s)) for t, s in
            db.tuples("SELECT tag, score FROM tags WHERE file_id = ? ORDER BY score DESC, tag", (file_id,))]  # fmt: skip


def tag_counts(db: Database) -> list[tuple[str, int]]:
    """Every tag in the library with how many photos carry it, by name."""
    return [(str(t), int(n)) for t, n in db.tuples("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY tag")]


def files_with_tag(db: Database, tag: str) -> list[int]:
    """Ids of the photos carrying a tag, best score first."""
    return [int(r[0]) for r in db.tuples("SELECT file_id FROM tags WHERE tag = ? ORDER BY score DESC, file_id",
                                         (tag,))]  # fmt: skip


def files_with_tags(db: Database, tags: Iterable[str]) -> dict[int, dict[str, float]]:
    """For each photo carrying any of the tags: its score for each of them."""
    wanted = list(dict.fromkeys(tags))
    out: dict[int, dict[str, float]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for file_id, tag, score in db.tuples(
            f"SELECT file_id, tag, score FROM tags WHERE tag IN ({', '.join('?' * len(chunk))})", chunk
        ):
            out.setdefault(int(file_id), {})[str(tag)] = float(score)
    return out


def has_tags(db: Database) -> bool:
    return db.value("SELECT 1 FROM tags LIMIT 1") is not None


def tags_without_vector(db: Database, model: str) -> list[str]:
    """Tag names present in the library with no vector from this text model."""
    return [str(r[0]) for r in db.tuples(
        "SELECT DISTINCT t.tag FROM tags t LEFT JOIN tag_vectors v ON v.tag = t.tag "
        "WHERE v.tag IS NULL OR v.model != ? ORDER BY t.tag", (model,))]  # fmt: skip


def store_vectors(db: Database, model: str, vectors: dict[str, np.ndarray]) -> None:
    """Call inside a transaction."""
    db.executemany("INSERT OR REPLACE INTO tag_vectors (tag, model, vector) VALUES (?, ?, ?)",
                   [(t, model, np.ascontiguousarray(v, dtype="<f4").tobytes()) for t, v in vectors.items()])  # fmt: skip


def tag_vectors(db: Database, model: str) -> tuple[list[str], np.ndarray]:
    """The tags carried by photos and their vectors from this model, as names and an [N, dim] matrix."""
    rows = db.tuples("SELECT v.tag, v.vector FROM tag_vectors v WHERE v.model = ? "
                     "AND EXISTS (SELECT 1 FROM tags t WHERE t.tag = v.tag) ORDER BY v.tag", (model,))  # fmt: skip
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    return [str(r[0]) for r in rows], np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])


def export_rows(db: Database) -> list[dict[str, Any]]:
    """Every kept tag, for 'gallerfs export'."""
    return db.rows("SELECT file_id, tag, score FROM tags ORDER BY file_id, score DESC, tag")


def tagged_export_rows(db: Database) -> list[dict[str, Any]]:
    """Which files were tagged, by which model, for 'gallerfs export'."""
    return db.rows("SELECT file_id, model, size, mtime_ns, state, error, tagged_at FROM tagged ORDER BY file_id")


def restore(db: Database, tagged: Sequence[dict[str, Any]], tags: Sequence[dict[str, Any]]) -> None:
    """Write exported tag records into a library; call inside a transaction."""
    db.executemany(
        "INSERT INTO tagged (file_id, model, size, mtime_ns, state, error, tagged_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(r["file_id"], r["model"], r["size"], r["mtime_ns"], r["state"], r.get("error"), r["tagged_at"])
         for r in tagged],
    )  # fmt: skip
    db.executemany("INSERT INTO tags (file_id, tag, score) VALUES (?, ?, ?)",
                   [(r["file_id"], r["tag"], r["score"]) for r in tags])  # fmt: skip


def tag_names(db: Database) -> list[str]:
    """Every tag carried by at least one photo, by name."""
    return [str(r[0]) for r in db.tuples("SELECT DISTINCT tag FROM tags ORDER BY tag")]
