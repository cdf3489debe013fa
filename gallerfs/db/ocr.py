"""Text found in photos: the files still to read, storing what was read, and the FTS5 index.

``ocr`` records per file whether it was read and from which version of the file (as
``embeddings`` does for CLIP), ``ocr_lines`` each line with its confidence and box, and
``ocr_fts`` indexes the text (triggers keep it in step; see migration m0021).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from gallerfs.db import analysis
from gallerfs.db.analysis import FileTask
from gallerfs.db.connection import Database

_IN_CHUNK = 900


@dataclass(frozen=True)
class OcrTask(FileTask):
    kind: str
    online: bool


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[tuple[float, float], ...]  # four corners, fractions of the image's width and height


# To do: files whose phase 2 is done (metadata and thumbnails exist), on sources with OCR on, not read
# yet or changed since.
def _todo_where(skip_sources: Sequence[int]) -> tuple[str, list[int]]:
    where = (
        "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN ocr o ON o.file_id = f.id "
        f"WHERE {analysis.KINDS_IN} AND f.state = 'done' AND {analysis.needs('o')}"
    )
    if skip_sources:
        where += f" AND f.source_id NOT IN ({', '.join('?' * len(skip_sources))})"
    return where, list(skip_sources)


def count_todo(db: Database, skip_sources: Sequence[int] = ()) -> int:
    where, params = _todo_where(skip_sources)
    return int(db.value(f"SELECT count(*) {where}", params))


def todo_batch(db: Database, after_id: int, limit: int, skip_sources: Sequence[int] = ()) -> list[OcrTask]:
    """Files still to read (or changed since), by id."""
    where, params = _todo_where(skip_sources)
    rows = db.tuples(
        f"SELECT f.id, f.source_id, f.relpath, s.path, f.size, f.mtime_ns, f.kind, s.online {where} AND f.id > ? "
        "ORDER BY f.id LIMIT ?",
        (*params, after_id, limit),
    )
    return [OcrTask(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]


def store(db: Database, done: Sequence[tuple[OcrTask, list[OcrLine]]], failed: Sequence[tuple[OcrTask, str]],
          engine: str) -> int:  # fmt: skip
    """Record a batch; call inside a transaction. Files that changed meanwhile are left for next time."""
    now = time.time()
    stored = 0
    for task, lines in done:
        if not analysis.unchanged(db, task):
            continue
        db.execute("DELETE FROM ocr WHERE file_id = ?", (task.file_id,))
        db.execute(
            "INSERT INTO ocr (file_id, size, mtime_ns, state, text, engine, ocr_at) VALUES (?, ?, ?, 'done', ?, ?, ?)",
            (task.file_id, task.size, task.mtime_ns, "\n".join(line.text for line in lines), engine, now),
        )
        db.executemany(
            "INSERT INTO ocr_lines (file_id, line, text, confidence, box) VALUES (?, ?, ?, ?, ?)",
            [(task.file_id, i, line.text, line.confidence, json.dumps([list(p) for p in line.box]))
             for i, line in enumerate(lines)],
        )  # fmt: skip
        stored += 1
    for task, error in failed:
        if not analysis.unchanged(db, task):
            continue
        db.execute("DELETE FROM ocr WHERE file_id = ?", (task.file_id,))
        db.execute(
            "INSERT INTO ocr (file_id, size, mtime_ns, state, error, engine, ocr_at) VALUES (?, ?, ?, 'error', ?, ?, ?)",
            (task.file_id, task.size, task.mtime_ns, error, engine, now),
        )
        stored += 1
    return stored


def lines_of(db: Database, file_id: int) -> list[OcrLine]:
    rows = db.tuples("SELECT text, confidence, box FROM ocr_lines WHERE file_id = ? ORDER BY line", (file_id,))
    return [OcrLine(r[0], r[1], tuple(tuple(p) for p in json.loads(r[2]))) for r in rows]


def has_text(db: Database) -> bool:
    """Whether any photo has text found in it (an OCR signal has something to search)."""
    return bool(db.value("SELECT EXISTS (SELECT 1 FROM ocr WHERE state = 'done' AND text != '')"))


def counts(db: Database) -> dict[str, int]:
    rows = dict(db.tuples("SELECT state, count(*) FROM ocr GROUP BY state"))
    with_text = int(db.value("SELECT count(*) FROM ocr WHERE state = 'done' AND text != ''"))
    return {"read": int(rows.get("done", 0)), "failed": int(rows.get("error", 0)), "with_text": with_text}


def match(db: Database, expression: str, limit: int, offset: int = 0) -> list[tuple[int, float, str]]:
    """(file_id, bm25, text) of files whose text matches an FTS5 expression, best first (bm25 is
    negative: lower is better)."""
    return [
        (int(r[0]), float(r[1]), r[2])
        for r in db.tuples(
            "SELECT rowid, bm25(ocr_fts), text FROM ocr_fts WHERE ocr_fts MATCH ? ORDER BY rank LIMIT ? OFFSET ?",
            (expression, limit, offset),
        )
    ]


def iter_export(db: Database) -> Iterator[dict[str, Any]]:
    """Every file's OCR record with its lines, by file id (for ``gallerfs export``)."""
    cursor = db.conn.cursor()
    lines: dict[int, list[dict[str, Any]]] = {}
    current: list[tuple[Any, ...]] = []
    for row in cursor.execute("SELECT file_id, size, mtime_ns, state, error, engine, ocr_at FROM ocr ORDER BY file_id"):
        current.append(row)
        if len(current) >= _IN_CHUNK:
            yield from _with_lines(db, current, lines)
            current = []
    yield from _with_lines(db, current, lines)


def _with_lines(db: Database, rows: list[tuple[Any, ...]], lines: dict[int, list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    if not rows:
        return
    ids = [r[0] for r in rows]
    lines.clear()
    for file_id, text, confidence, box in db.tuples(
        f"SELECT file_id, text, confidence, box FROM ocr_lines WHERE file_id IN ({', '.join('?' * len(ids))}) "
        "ORDER BY file_id, line",
        ids,
    ):
        lines.setdefault(file_id, []).append({"text": text, "confidence": confidence, "box": json.loads(box)})
    for file_id, size, mtime_ns, state, error, engine, ocr_at in rows:
        yield {"file_id": file_id, "size": size, "mtime_ns": mtime_ns, "state": state, "error": error,
               "engine": engine, "ocr_at": ocr_at, "lines": lines.get(file_id, [])}  # fmt: skip


def analysis_off(db: Database) -> list[dict[str, Any]]:
    """The per-source analysis switches turned off (for ``gallerfs export``)."""
    return db.rows("SELECT source_id, kind, off_at FROM source_analysis_off ORDER BY source_id, kind")


def restore(db: Database, records: Sequence[dict[str, Any]], analysis_off_rows: Sequence[dict[str, Any]]) -> int:
    """Write exported OCR records and per-source switches into a library just restored (ids preserved);
    returns how many OCR records were written."""
    with db.transaction():
        for r in records:
            lines = r.get("lines") or []
            db.execute(
                "INSERT OR REPLACE INTO ocr (file_id, size, mtime_ns, state, error, text, engine, ocr_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (r["file_id"], r["size"], r["mtime_ns"], r["state"], r.get("error"),
                 "\n".join(line["text"] for line in lines), r.get("engine"), r["ocr_at"]),
            )  # fmt: skip
            db.executemany(
                "INSERT INTO ocr_lines (file_id, line, text, confidence, box) VALUES (?, ?, ?, ?, ?)",
                [(r["file_id"], i, line["text"], line["confidence"], json.dumps(line["box"]))
                 for i, line in enumerate(lines)],
            )  # fmt: skip
        db.executemany(
            "INSERT OR IGNORE INTO source_analysis_off (source_id, kind, off_at) VALUES (?, ?, ?)",
            [(r["source_id"], r["kind"], r["off_at"]) for r in analysis_off_rows],
        )
    return len(records)
