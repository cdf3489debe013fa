"""The OCR job: the text in every photo, resumable per file (the ``ocr`` extra).

Runs after phase 2 (so after metadata and thumbnails) as the ``ocr`` job, a row in ``jobs``.
Which files are done is recorded per file in ``ocr`` with the size and mtime read, so a killed job
resumes with the files still to do and an edited photo is read again. A photo is read from its
preview thumbnail (upright, at most 1280 px, there for RAW files and videos and while a source is
offline), or from the original, downscaled, when the preview is missing. Sources with OCR turned
off (``gallerfs sources set NAME --no-ocr``) are skipped. Without the extra the stage does nothing
and says so in one line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gallerfs.config import Settings
from gallerfs.db import ocr as ocr_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.ocr import OcrLine, OcrTask
from gallerfs.db.state import bump_generation
from gallerfs.models import extras
from gallerfs.paths import LibraryPaths
from gallerfs.indexer import resumable
from gallerfs.indexer.thumbnails import thumbnail_path

log = logging.getLogger(__name__)

JOB_KIND = "ocr"
BATCH = 16


@dataclass
class OcrReport:
    read: int = 0
    with_text: int = 0
    failed: int = 0
    waiting: int = 0  # on an offline source with no preview; read once it is back
    sources_off: int = 0
    notice: str | None = None  # why the stage did nothing (the extra is missing)

    def as_dict(self) -> dict[str, Any]:
        if self.notice:
            summary = self.notice
        elif not self.read and not self.failed and not self.waiting:
            summary = None
        else:
            summary = f"{self.read} photos read, {self.with_text} with text, {self.failed} failed"
            if self.waiting:
                summary += f", {self.waiting} wait for their source to be online"
        return {"read": self.read, "with_text": self.with_text, "failed": self.failed, "waiting": self.waiting,
                "sources_off": self.sources_off, "skipped": bool(self.notice), "summary": summary}  # fmt: skip


def _image_for(task: OcrTask, thumb_root: Path) -> Path | None:
    """The preview when there is one, else the original of a photo on an online source (None: wait)."""
    preview = thumbnail_path(thumb_root, task.file_id, "preview")
    if preview.is_file():
        return preview
    if task.kind == "image" and task.online:
        return Path(os.fsdecode(task.path))
    return None


def _read_one(reader: Any, task: OcrTask, thumb_root: Path, max_pixels: int) -> list[OcrLine] | str | None:
    from gallerfs.indexer.ocr_engine import OcrImageError, load

    source = _image_for(task, thumb_root)
    if source is None:
        if task.kind != "image":
            return f"no preview image to read ({task.kind} without a decodable frame)"
        return None
    try:
        lines: list[OcrLine] = reader.read(load(source, max_pixels))
        return lines
    except OcrImageError as exc:
        return str(exc)
    except MemoryError:
        return "out of memory while reading text"
    except Exception as exc:  # an engine bug on odd input: record it, never stop the job
        log.exception("OCR of %s failed", os.fsdecode(task.path))
        return f"internal error: {exc!r}"


def ocr_library(db: Database, paths: LibraryPaths, settings: Settings, on_progress: Callable[[int], None] | None = None,
                *, on_total: Callable[[int], None] | None = None, reader: Any = None) -> OcrReport:  # fmt: skip
    report = OcrReport()
    if not extras.wanted("ocr"):
        log.info("text in photos not read: %s leaves out ocr", extras.ANALYSIS_ENV)
        return report
    if extras.missing("ocr"):
        report.notice = extras.notice("ocr", "text in photos")
        log.info("%s", report.notice)
        return report
    skip = [s.id for s in sources_db.list_sources(db) if not sources_db.analysis_enabled(db, s.id, "ocr")]
    report.sources_off = len(skip)
    todo = ocr_db.count_todo(db, skip)
    if not todo:
        return report
    with resumable.claimed(db, JOB_KIND, todo, on_total) as job:
        if reader is None:
            from gallerfs.indexer.ocr_engine import Reader

            reader = Reader()
        from gallerfs.indexer.ocr_engine import engine_name

        engine = engine_name()
        read = ([(t, _read_one(reader, t, paths.thumbnails, settings.max_image_pixels)) for t in batch]
                for batch in resumable.pages(lambda after: ocr_db.todo_batch(db, after, BATCH, skip)))  # fmt: skip
        resumable.record_batches(db, job, read, lambda db, batch: _record(db, batch, engine, report), log=log,
                                 describe=resumable.by_path, on_progress=on_progress)  # fmt: skip
    return report


def _record(db: Database, batch: resumable.Batch[OcrTask, list[OcrLine]], engine: str,
            report: OcrReport) -> list[tuple[OcrTask, str]]:  # fmt: skip
    """Store a batch's text and errors (inside its transaction); the errors are recorded as failures."""
    ocr_db.store(db, batch.done, batch.failed, engine)
    if batch.done:
        bump_generation(db)
    report.read += len(batch.done)
    report.with_text += sum(1 for _, lines in batch.done if lines)
    report.failed += len(batch.failed)
    report.waiting += batch.waiting
    return batch.failed


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``ocr`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "ocr", lambda on_progress, on_total: ocr_library(db, paths, settings, on_progress, on_total=on_total), min_total=0)
