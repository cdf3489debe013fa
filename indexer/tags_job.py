"""The tags job: what is in each photo, from phase 2's preview, resumable per file.

Runs after phase 2 as the ``tags`` job (a row in ``jobs``) when the ``tags`` model is installed
(``gallerfs models install tags``); without it the stage does nothing and says so in one line. Which files
are done is recorded per file in ``tagged`` (with the size, mtime and model), so a killed job resumes
with the files still to do, redoing at most the batch in flight, and an edited photo is tagged again.
Files are chosen one source at a time, so a source whose analysis is switched off is skipped with one
call. A preview that cannot be decoded is recorded with its error and skipped.

When the ``text`` model is installed too, every tag name in the library gets its MiniLM vector
(``tag_vectors``), which search uses to match a query to tags by meaning.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import sources as sources_db
from gallerfs.db import tags as tags_db
from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.db.tags import TagTask
from gallerfs.paths import LibraryPaths
from gallerfs.indexer import resumable
from gallerfs.indexer.clip.preprocess import ImageDecodeError
from gallerfs.indexer.thumbnails import thumbnail_path
from gallerfs.models import packaged

log = logging.getLogger(__name__)

JOB_KIND = "tags"
BATCH = 16


@dataclass
class TagsReport:
    tagged: int = 0
    failed: int = 0
    vectors: int = 0  # tag names embedded for search
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.model is None:
            summary = f"skipped: {packaged.not_installed_message('tags')}"
        elif not self.tagged and not self.failed:
            summary = "nothing new to tag"
        else:
            summary = f"{self.tagged} photos tagged, {self.failed} failed"
        return {"tagged": self.tagged, "failed": self.failed, "vectors": self.vectors, "model": self.model,
                "summary": summary}  # fmt: skip


def source_enabled(db: Database, source_id: int) -> bool:
    """Whether the source's photos are analysed for tags (``gallerfs sources set NAME --no-tags``)."""
    return sources_db.analysis_enabled(db, source_id, JOB_KIND)


def _decode(task: TagTask, thumb_root: Path, max_pixels: int) -> np.ndarray | str:
    from gallerfs.indexer.tagger import preprocess_file

    preview = thumbnail_path(thumb_root, task.file_id, "preview")
    if not preview.is_file():
        return "no preview image to tag"
    try:
        return preprocess_file(preview, max_pixels)
    except ImageDecodeError as exc:
        return str(exc)
    except MemoryError:
        return "out of memory while decoding"
    except Exception as exc:  # a decoder bug on odd input: record it, never stop the job
        log.exception("decoding the preview of file %d failed", task.file_id)
        return f"internal error: {exc!r}"


def tag_library(db: Database, paths: LibraryPaths, settings: Settings,
                on_progress: Callable[[int], None] | None = None,
                on_total: Callable[[int], None] | None = None) -> TagsReport:  # fmt: skip
    from gallerfs.models import extras

    report = TagsReport()
    if not extras.wanted(JOB_KIND):
        log.info("photos not tagged: %s leaves out tags", extras.ANALYSIS_ENV)
        return report
    model = packaged.installed(paths, "tags")
    if model is None:
        log.info("%s; photos will be tagged by a later 'gallerfs index'", packaged.not_installed_message("tags"))
        report.vectors = embed_tag_names(db, paths, settings)  # tags imported from an export
        return report
    report.model = model.identity
    work = [(s, n) for s, n in tags_db.sources_with_todo(db, model.identity) if source_enabled(db, s)]
    todo = sum(n for _, n in work)
    if todo:
        _tag(db, paths, settings, model, work, todo, report, on_progress, on_total)
    report.vectors = embed_tag_names(db, paths, settings)
    return report


def _tag(db: Database, paths: LibraryPaths, settings: Settings, model: packaged.Installed,
         work: list[tuple[int, int]], todo: int, report: TagsReport,
         on_progress: Callable[[int], None] | None, on_total: Callable[[int], None] | None) -> None:  # fmt: skip
    from gallerfs.indexer.tagger import Tagger  # onnxruntime loads only when there is work

    with resumable.claimed(db, JOB_KIND, todo, on_total) as job:
        tagger = Tagger(model, settings.embed_device)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="tags-decode") as pool:
            for source_id, _ in work:
                batches = resumable.pages(partial(tags_db.todo_batch, db, model.identity, source_id, limit=BATCH))
                tagged = (_tagged(tagger, pool, b, paths.thumbnails, settings.max_image_pixels) for b in batches)
                resumable.record_batches(db, job, tagged, lambda db, batch: _record(db, batch, model.identity, report),
                                         log=log, describe=_file_id, on_progress=on_progress)  # fmt: skip


def _tagged(tagger: Any, pool: ThreadPoolExecutor, batch: list[TagTask], thumb_root: Path,
            max_pixels: int) -> list[tuple[TagTask, dict[str, float] | str]]:  # fmt: skip
    """A batch's outcomes: the tags of each photo whose preview decodes, else the error."""
    decoded = list(pool.map(lambda t: _decode(t, thumb_root, max_pixels), batch))
    good = [x for x in decoded if isinstance(x, np.ndarray)]
    found = iter(tagger.tag(np.stack(good)) if good else [])
    return [(t, next(found) if isinstance(x, np.ndarray) else x) for t, x in zip(batch, decoded)]


def _record(db: Database, batch: resumable.Batch[TagTask, dict[str, float]], model: str,
            report: TagsReport) -> list[tuple[TagTask, str]]:  # fmt: skip
    """Store a batch's tags and errors (inside its transaction); the errors are recorded as failures."""
    tags_db.store(db, model, batch.done, batch.failed)
    bump_generation(db)
    report.tagged += len(batch.done)
    report.failed += len(batch.failed)
    return batch.failed


def _file_id(task: TagTask) -> str:
    return f"file {task.file_id}"


def embed_tag_names(db: Database, paths: LibraryPaths, settings: Settings) -> int:
    """Give every tag name in the library its text vector (when the ``text`` model is installed)."""
    text_model = packaged.installed(paths, "text")
    if text_model is None:
        return 0
    missing = tags_db.tags_without_vector(db, text_model.identity)
    if not missing:
        return 0
    from gallerfs.search.textembed import embedder

    vectors = embedder(text_model, settings.embed_device).encode(missing)
    with db.transaction():
        tags_db.store_vectors(db, text_model.identity, dict(zip(missing, vectors)))
    return len(missing)


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``tags`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "tags", lambda on_progress, on_total: tag_library(db, paths, settings, on_progress, on_total=on_total))
