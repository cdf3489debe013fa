"""The embedding job: a CLIP image vector for every photo, resumable per file.

Runs after phase 2 as the ``embed`` job (a row in ``jobs``). Which files are
done is recorded per file in ``embeddings`` (with the size and mtime embedded),
so a killed job resumes with the files still to do, redoing at most the batch
in flight, and an edited photo is embedded again. Decoding runs on a thread
pool ahead of the model (Pillow and onnxruntime release the GIL), so decoding
overlaps inference. A file whose phase 2 is done is embedded from its preview
thumbnail (upright, at most 1280 px: decoding it is cheap, and it exists for
RAW files and videos and while a source is offline); a photo not processed
yet is embedded from the original. A file that cannot be decoded is recorded with its error
and skipped. Without an installed model the stage does nothing and says so;
photos are embedded by a later ``gallerfs index``.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db import files as files_db
from gallerfs.db import jobs as jobs_db
from gallerfs.db.connection import Database
from gallerfs.db.embeddings import EmbedTask
from gallerfs.db.state import bump_generation
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.indexer.clip.preprocess import ImageDecodeError, preprocess_file
from gallerfs.indexer.thumbnails import thumbnail_path
from gallerfs.models.store import NO_MODEL_MESSAGE, InstalledModel, current_model

log = logging.getLogger(__name__)

JOB_KIND = "embed"
PREFETCH_BATCHES = 2


@dataclass
class EmbedReport:
    embedded: int = 0
    failed: int = 0
    skipped: int = 0  # changed while being embedded; done next time
    waiting: int = 0  # on an offline source with no preview yet; done once it is back
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.model is None:
            summary = f"skipped: {NO_MODEL_MESSAGE}"
        else:
            summary = f"{self.embedded} photos embedded, {self.failed} failed"
            if self.waiting:
                summary += f", {self.waiting} wait for their source to be online"
        return {"embedded": self.embedded, "failed": self.failed, "waiting": self.waiting, "model": self.model,
                "summary": summary}


Decoded = tuple[EmbedTask, "np.ndarray | str | None"]  # tensor, error, or None: wait (source offline)


def _source_image(task: EmbedTask, thumb_root: Path) -> bytes | Path:
    """What to embed: phase 2's preview (upright, small, there even when the source is offline) when
    it is current, else the original photo."""
    if task.processed:
        preview = thumbnail_path(thumb_root, task.file_id, "preview")
        if preview.is_file() or task.kind != "image":
            return preview
    return task.path


def _decode(task: EmbedTask, thumb_root: Path, size: int, max_pixels: int) -> Decoded:
    try:
        source = _source_image(task, thumb_root)
        if isinstance(source, bytes) and not task.online:
            return task, None  # no preview and the original is offline: embedded once it is back
        if isinstance(source, Path) and not source.is_file():
            return task, f"no preview image to embed ({task.kind} without a decodable frame)"
        return task, preprocess_file(source, size, max_pixels)
    except ImageDecodeError as exc:
        return task, str(exc)
    except MemoryError:
        return task, "out of memory while decoding"
    except Exception as exc:  # a decoder bug on odd input: record it, never stop the job
        log.exception("decoding %s failed", os.fsdecode(task.path))
        return task, f"internal error: {exc!r}"


def _batches(db: Database, size: int) -> Iterator[list[EmbedTask]]:
    after = 0
    while True:
        batch = embeddings_db.todo_batch(db, after, size)
        if not batch:
            return
        after = batch[-1].file_id
        yield batch


def decode_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(16, cpus))


def embed_library(
    db: Database,
    paths: LibraryPaths,
    settings: Settings,
    on_progress: Callable[[int], None] | None = None,
    *,
    model: InstalledModel | None = None,
    device: str | None = None,
    on_total: Callable[[int], None] | None = None,
) -> EmbedReport:
    model = model or current_model(paths)
    if model is None:
        log.info("%s; photos will be embedded by a later 'gallerfs index'", NO_MODEL_MESSAGE)
        return EmbedReport()
    from gallerfs.indexer.clip.model import ImageEncoder  # onnxruntime loads only when there is work

    report = EmbedReport(model=model.name)
    if embeddings_db.ensure_space(db, model.identity, model.dim):
        log.info("embedding space set to %s (%d-d): every photo is embedded", model.name, model.dim)
    todo = embeddings_db.count_todo(db)
    job = jobs_db.claim(db, JOB_KIND)
    with db.transaction():
        jobs_db.set_total(db, job.id, job.done + todo)
    if on_total:
        on_total(todo)
    try:
        encoder = ImageEncoder(model.image_path, device or settings.embed_device) if todo else None
        batch_size = max(1, settings.embed_batch_size)
        with ThreadPoolExecutor(max_workers=decode_workers(), thread_name_prefix="clip-decode") as pool:
            pending: deque[list[Future[Decoded]]] = deque()
            batches = _batches(db, batch_size)
            for batch in batches:
                pending.append([
                    pool.submit(_decode, t, paths.thumbnails, model.spec.image_size, settings.max_image_pixels)
                    for t in batch
                ])
                if len(pending) < PREFETCH_BATCHES:
                    continue
                _finish(db, encoder, pending.popleft(), job.id, model, report, on_progress)
            while pending:
                _finish(db, encoder, pending.popleft(), job.id, model, report, on_progress)
    except BaseException as exc:
        jobs_db.finish(db, job.id, "failed", f"{type(exc).__name__}: {exc}")
        raise
    jobs_db.finish(db, job.id, "done")
    return report


def _finish(
    db: Database,
    encoder: Any,
    futures: list[Future[Decoded]],
    job_id: int,
    model: InstalledModel,
    report: EmbedReport,
    on_progress: Callable[[int], None] | None,
) -> None:
    decoded = [f.result() for f in futures]
    good = [(t, x) for t, x in decoded if isinstance(x, np.ndarray)]
    bad = [(t, x) for t, x in decoded if isinstance(x, str)]
    done: list[tuple[EmbedTask, np.ndarray]] = []
    if good:
        vectors = encoder.encode(np.stack([x for _, x in good]))
        if vectors.shape[1] != model.dim:
            raise GallerfsError(f"{model.name}: the image tower gives {vectors.shape[1]}-d vectors, the manifest says {model.dim}")
        done = [(t, v) for (t, _), v in zip(good, vectors)]
    with db.transaction():
        stored = embeddings_db.store(db, done, bad)
        for task, error in bad:
            files_db.record_failure(
                db, source_id=task.source_id, file_id=task.file_id, job_id=job_id, path=task.relpath,
                stage="embed", error=error,
            )  # fmt: skip
            log.warning("%s: embed: %s", os.fsdecode(task.path), error)
        jobs_db.progress(db, job_id, done=len(good) + len(bad), failed=len(bad), error=bad[-1][1] if bad else None)
        bump_generation(db)
    report.embedded += len(done)
    report.failed += len(bad)
    report.skipped += len(good) + len(bad) - stored
    if on_progress:
        on_progress(len(decoded))
    report.waiting += len(decoded) - len(good) - len(bad)


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``embed`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "embed", lambda on_progress, on_total: embed_library(db, paths, settings, on_progress, on_total=on_total))
