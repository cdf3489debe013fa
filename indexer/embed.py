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
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import embeddings as embeddings_db
from gallerfs.db.connection import Database
from gallerfs.db.embeddings import EmbedTask
from gallerfs.db.state import bump_generation
from gallerfs.errors import GallerfsError
from gallerfs.paths import LibraryPaths
from gallerfs.indexer import resumable
from gallerfs.indexer.clip.preprocess import ImageDecodeError, preprocess_file
from gallerfs.indexer.thumbnails import thumbnail_path
from gallerfs.models.store import NO_MODEL_MESSAGE, InstalledModel, current_model

log = logging.getLogger(__name__)

JOB_KIND = "embed"
PREFETCH_BATCHES = 2

T = TypeVar("T")


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
    with resumable.claimed(db, JOB_KIND, todo, on_total) as job:
        encoder = ImageEncoder(model.image_path, device or settings.embed_device) if todo else None
        batch_size = max(1, settings.embed_batch_size)
        with ThreadPoolExecutor(max_workers=decode_workers(), thread_name_prefix="clip-decode") as pool:
            decoding = (
                [pool.submit(_decode, t, paths.thumbnails, model.spec.image_size, settings.max_image_pixels)
                 for t in batch]
                for batch in resumable.pages(lambda after: embeddings_db.todo_batch(db, after, batch_size))
            )  # fmt: skip
            embedded = (_encode(encoder, futures, model) for futures in _ahead(decoding, PREFETCH_BATCHES))
            resumable.record_batches(db, job, embedded, lambda db, batch: _record(db, batch, report), log=log,
                                     describe=resumable.by_path, on_progress=on_progress)  # fmt: skip
    return report


def _ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """The items of *items*, with *depth* - 1 more always taken ahead: taking a batch submits its decoding,
    so the next batches decode while this one is encoded and stored."""
    pending: deque[T] = deque()
    for item in items:
        pending.append(item)
        if len(pending) >= depth:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def _encode(encoder: Any, futures: list[Future[Decoded]], model: InstalledModel) -> list[Decoded]:
    """A batch's outcomes: decoded photos become their vectors; errors and files that wait stay as they are."""
    decoded = [f.result() for f in futures]
    good = [(i, x) for i, (_, x) in enumerate(decoded) if isinstance(x, np.ndarray)]
    if not good:
        return decoded
    vectors = encoder.encode(np.stack([x for _, x in good]))
    if vectors.shape[1] != model.dim:
        raise GallerfsError(f"{model.name}: the image tower gives {vectors.shape[1]}-d vectors, the manifest says {model.dim}")
    for (i, _), vector in zip(good, vectors):
        decoded[i] = (decoded[i][0], vector)
    return decoded


def _record(db: Database, batch: resumable.Batch[EmbedTask, np.ndarray],
            report: EmbedReport) -> list[tuple[EmbedTask, str]]:  # fmt: skip
    """Store a batch's vectors and errors (inside its transaction); the errors are recorded as failures."""
    stored = embeddings_db.store(db, batch.done, batch.failed)
    bump_generation(db)
    report.embedded += len(batch.done)
    report.failed += len(batch.failed)
    report.skipped += len(batch.done) + len(batch.failed) - stored
    report.waiting += batch.waiting
    return batch.failed


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``embed`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "embed", lambda on_progress, on_total: embed_library(db, paths, settings, on_progress, on_total=on_total))
