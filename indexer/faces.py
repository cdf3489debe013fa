"""The faces job: find the faces in every photo, describe each as a 128-D vector, group them into people.

Runs after phase 2 as the ``faces`` job (a row in ``jobs``), one source at a time. Which files are done
is recorded per file in ``face_scans`` (with the size and mtime scanned), so a killed job resumes with
the files still to do, redoing at most the batch in flight, and an edited photo is scanned again (its
faces keep their person: ``gallerfs.db.faces.store_scan``).

Each photo is looked at on a downscaled copy of about one megapixel: phase 2's preview thumbnail when it
is current (upright, there for RAW files and videos and while a source is offline), else the original
decoded at reduced size. dlib's HOG detector finds the faces (small images are upsampled once so faces
of about 40 px are found), its 5-point landmark model aligns them and its ResNet model gives the
descriptor; boxes are stored in the pixels of the upright original. The models are dlib's own, shipped
in the ``face_recognition_models`` package (CC0): the 5-point landmarks, never the 68-point model, whose
training data excludes commercial use, and the HOG detector rather than the CNN one (seconds per image).

Without the ``faces`` extra (dlib-bin, face-recognition-models) the stage does nothing and says so.
After the scan, faces not yet in a person are clustered (``gallerfs.people.cluster``, with the
``face_distance`` setting).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageOps

from gallerfs.config import Settings
from gallerfs.db import faces as faces_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.faces import FaceTask, FoundFace
from gallerfs.db.jobs import Job
from gallerfs.db.state import bump_generation
from gallerfs.paths import LibraryPaths
from gallerfs.indexer import resumable
from gallerfs.indexer.thumbnails import thumbnail_path

log = logging.getLogger(__name__)

JOB_KIND = "faces"
BATCH = 16
TARGET_PIXELS = 1_000_000  # detection runs on about this many pixels
UPSAMPLE_BELOW = 500_000  # smaller images are upsampled once (HOG finds faces down to ~80 px at 1x)
MIN_SCORE = 0.3  # HOG scores below this were mostly not faces (a badge on skimage's astronaut scores 0.12)
MISSING_MESSAGE = "face recognition is not installed (pip install 'gallerfs[faces]')"

LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"


class FaceDecodeError(Exception):
    """The file could not be looked at; the message is one line."""


def models_dir() -> Path | None:
    """The folder of dlib's model files inside the face_recognition_models package, without importing it
    (its __init__ needs pkg_resources, which current setuptools no longer has)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if (folder / LANDMARKS_FILE).is_file() and (folder / DESCRIPTOR_FILE).is_file():
            return folder
    return None


def available() -> bool:
    return models_dir() is not None and importlib.util.find_spec("dlib") is not None


class FaceModel:
    """dlib's HOG detector, 5-point landmarks and ResNet descriptor, loaded once."""

    def __init__(self, folder: Path | None = None) -> None:
        import dlib

        folder = folder or models_dir()
        if folder is None:
            raise RuntimeError(MISSING_MESSAGE)
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._descriptor = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE))

    def faces(self, rgb: np.ndarray, scale: tuple[float, float] = (1.0, 1.0)) -> list[FoundFace]:
        """Faces in an RGB uint8 array; boxes multiplied by *scale* (to the original's pixels)."""
        h, w = rgb.shape[:2]
        upsample = 1 if w * h < UPSAMPLE_BELOW else 0
        boxes, scores, _ = self._detector.run(rgb, upsample, MIN_SCORE)
        out = []
        sx, sy = scale
        for box, score in zip(boxes, scores):
            shape = self._landmarks(rgb, box)
            vector = np.asarray(self._descriptor.compute_face_descriptor(rgb, shape), dtype=np.float32)
            left, top = max(0, box.left()), max(0, box.top())
            right, bottom = min(w, box.right()), min(h, box.bottom())
            out.append(FoundFace(x=round(left * sx), y=round(top * sy), w=max(1, round((right - left) * sx)),
                                 h=max(1, round((bottom - top) * sy)), score=float(score), embedding=vector))  # fmt: skip
        return out


_MODEL: FaceModel | None = None


def shared_model() -> FaceModel:
    """The models, loaded once per process (about 0.3 s)."""
    global _MODEL
    if _MODEL is None:
        _MODEL = FaceModel()
    return _MODEL


@dataclass
class FacesReport:
    scanned: int = 0
    faces: int = 0
    failed: int = 0
    waiting: int = 0  # on an offline source with no preview yet; done once it is back
    installed: bool = True
    clustering: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        if not self.installed:
            summary = f"skipped: {MISSING_MESSAGE}"
        else:
            summary = f"{self.scanned} photos scanned, {self.faces} faces found, {self.failed} failed"
            if self.waiting:
                summary += f", {self.waiting} wait for their source to be online"
        return {"scanned": self.scanned, "faces": self.faces, "failed": self.failed, "waiting": self.waiting,
                "installed": self.installed, "clustering": self.clustering, "summary": summary}  # fmt: skip


def _fit(im: Image.Image) -> Image.Image:
    pixels = im.width * im.height
    if pixels <= TARGET_PIXELS * 1.3:
        return im
    f = (TARGET_PIXELS / pixels) ** 0.5
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.BILINEAR)


def load_for_detection(path: Path | bytes, original_size: tuple[int, int] | None, max_pixels: int) -> tuple[np.ndarray, tuple[float, float]]:
    """An upright RGB array of about a megapixel, and the factors from its pixels to the original's.

    original_size: the upright original's size when the image is a preview of it; None when *path* is
    the original itself."""
    try:
        with Image.open(os.fsdecode(path) if isinstance(path, bytes) else path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise FaceDecodeError(f"image of {width}x{height} pixels is over the {max_pixels}-pixel limit")
            orientation = im.getexif().get(0x0112, 1)
            upright = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
            if im.format == "JPEG" and width * height > 4 * TARGET_PIXELS:
                f = (2 * TARGET_PIXELS / (width * height)) ** 0.5
                im.draft("RGB", (round(width * f), round(height * f)))
            im.load()
            im = ImageOps.exif_transpose(im) or im
            rgb = _fit(im.convert("RGB"))
    except FaceDecodeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise FaceDecodeError(f"cannot decode image: {exc}".splitlines()[0]) from None
    ow, oh = original_size or upright
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)), (ow / rgb.width, oh / rgb.height)


def _look(model: FaceModel, task: FaceTask, thumb_root: Path, max_pixels: int) -> list[FoundFace] | str | None:
    """The faces of one file, an error (one line), or None: wait (the source is offline)."""
    try:
        if task.processed:
            preview = thumbnail_path(thumb_root, task.file_id, "preview")
            if preview.is_file():
                size = (task.width, task.height) if task.width and task.height else None
                rgb, scale = load_for_detection(preview, size, max_pixels)
                return model.faces(rgb, scale)
            if task.kind != "image":
                return f"no preview image to look for faces in ({task.kind} without a decodable frame)"
        if not task.online:
            return None
        rgb, scale = load_for_detection(task.path, None, max_pixels)
        return model.faces(rgb, scale)
    except FaceDecodeError as exc:
        return str(exc)
    except FileNotFoundError:
        return "the file is gone"
    except MemoryError:
        return "out of memory while decoding"
    except Exception as exc:  # a decoder or dlib failure on odd input: record it, never stop the job
        log.exception("looking for faces in %s failed", os.fsdecode(task.path))
        return f"internal error: {exc!r}"


def sources_to_scan(db: Database) -> list[int]:
    """The sources whose files the job looks at, in order: those not switched off for faces
    (``gallerfs sources set NAME --no-faces``)."""
    return [s.id for s in sources_db.list_sources(db) if sources_db.analysis_enabled(db, s.id, JOB_KIND)]


def scan_library(db: Database, paths: LibraryPaths, settings: Settings,
                 on_progress: Callable[[int], None] | None = None, *, model: FaceModel | None = None,
                 on_total: Callable[[int], None] | None = None) -> FacesReport:  # fmt: skip
    from gallerfs.models import extras

    if model is None and not extras.wanted(JOB_KIND):
        log.info("faces not looked for: %s leaves out faces", extras.ANALYSIS_ENV)
        return FacesReport()
    if model is None and not available():
        log.info("%s; faces will be found by a later 'gallerfs index'", MISSING_MESSAGE)
        return FacesReport(installed=False)
    from gallerfs.people import cluster

    report = FacesReport()
    source_ids = sources_to_scan(db)
    todo = sum(faces_db.count_todo(db, s) for s in source_ids)
    if on_total:
        on_total(todo)
    # A job row only when there is something to look at (a re-index adds none).
    with resumable.claimed(db, JOB_KIND, todo) if todo else contextlib.nullcontext() as job:
        if job is not None:
            model = model or shared_model()
            for source_id in source_ids:
                _scan_source(db, paths, settings, model, source_id, job, report, on_progress)
        with db.transaction():  # persons whose photos were all deleted (unnamed ones only)
            faces_db.drop_empty_persons(db)
        report.clustering = cluster(db, settings.face_distance).as_dict()
    return report


def _scan_source(db: Database, paths: LibraryPaths, settings: Settings, model: FaceModel, source_id: int,
                 job: Job, report: FacesReport, on_progress: Callable[[int], None] | None) -> None:  # fmt: skip
    batches = resumable.pages(lambda after: faces_db.todo_batch(db, source_id, after, BATCH))
    looked = ([(task, _look(model, task, paths.thumbnails, settings.max_image_pixels)) for task in batch]
              for batch in batches)  # fmt: skip
    resumable.record_batches(db, job, looked, lambda db, batch: _record(db, batch, report), log=log,
                             describe=resumable.by_path, on_progress=on_progress, waiting_is_progress=True)  # fmt: skip


def _record(db: Database, batch: resumable.Batch[FaceTask, list[FoundFace]],
            report: FacesReport) -> list[tuple[FaceTask, str]]:  # fmt: skip
    """Store a batch's faces and errors (inside its transaction: the looking is done); returns the errors
    stored, to be recorded as failures (a file that changed meanwhile is left for next time)."""
    for task, found in batch.done:
        if faces_db.store_scan(db, task, found, None):
            report.faces += len(found)
            report.scanned += 1
    failed = [(task, error) for task, error in batch.failed if faces_db.store_scan(db, task, None, error)]
    bump_generation(db)
    report.failed += len(batch.failed)
    report.waiting += batch.waiting
    return failed


def stage(db: Database, paths: LibraryPaths, settings: Settings, progress: Any) -> dict[str, Any]:
    """The ``faces`` stage of ``gallerfs index`` (see ``indexer.run.LATER_STAGES``)."""
    from gallerfs.indexer.stage_progress import run_with_progress

    return run_with_progress(progress, "faces", lambda on_progress, on_total: scan_library(db, paths, settings, on_progress, on_total=on_total))
