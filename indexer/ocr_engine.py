"""Reading text in one image with RapidOCR (PP-OCR detection, orientation and recognition models,
run by onnxruntime); the ``ocr`` extra.

Images are read upright (EXIF orientation applied) and at most ``MAX_SIDE`` pixels on the long side:
the preview thumbnail already is; an original is downscaled (JPEGs in the DCT domain). Boxes come
back as fractions of the image's width and height, so they fit any rendition of the photo.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from gallerfs.db.ocr import OcrLine

log = logging.getLogger(__name__)

MAX_SIDE = 1280
# Text is detected at this long side (RapidOCR's default keeps a 1280-px preview whole, 2.5x slower
# for the same words); smaller images are enlarged to it first, which small print needs to be read.
DETECT_SIDE = 960
MIN_CONFIDENCE = 0.5  # lines the recogniser is less sure of are mostly noise (textures, edges)
MIN_SIDE = 16  # images smaller than this hold no readable text


class OcrImageError(Exception):
    """The image could not be read; the message is one line."""


def engine_name() -> str:
    try:
        return f"rapidocr {metadata.version('rapidocr')}"
    except metadata.PackageNotFoundError:
        return "rapidocr"


def load(path: str | os.PathLike[str] | bytes, max_pixels: int, max_side: int = MAX_SIDE) -> np.ndarray:
    """An image as an upright RGB array, long side at most ``max_side``."""
    try:
        with Image.open(os.fsdecode(path) if isinstance(path, (bytes, Path)) else path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise OcrImageError(f"image of {width}x{height} pixels is over the {max_pixels}-pixel limit")
            if im.format == "JPEG" and max(width, height) > max_side:
                scale = max_side / max(width, height)
                im.draft("RGB", (round(width * scale), round(height * scale)))
            im.load()
            upright: Image.Image = ImageOps.exif_transpose(im) or im
            rgb = upright.convert("RGB")
            if max(rgb.size) > max_side:
                rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return np.asarray(rgb)
    except OcrImageError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise OcrImageError(f"cannot decode image: {exc}".splitlines()[0]) from None


class Reader:
    """One RapidOCR engine (loading the models takes a second: make one per job). Thread-safe."""

    def __init__(self, threads: int | None = None) -> None:
        from rapidocr import RapidOCR  # the 'ocr' extra: imported only when a job has work

        # It logs every model load and every image without text on its own handler; errors only.
        params: dict[str, Any] = {"Global.log_level": "error", "Det.limit_type": "max",
                                  "Det.limit_side_len": DETECT_SIDE}  # fmt: skip
        if threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
        self._engine = RapidOCR(params=params)
        self._lock = threading.Lock()

    def read(self, image: np.ndarray) -> list[OcrLine]:
        height, width = image.shape[:2]
        if min(height, width) < MIN_SIDE:
            return []
        if max(height, width) < DETECT_SIDE:
            scale = DETECT_SIDE / max(height, width)
            width, height = round(width * scale), round(height * scale)
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BICUBIC))
        with self._lock:
            result: Any = self._engine(image)
        if result.txts is None or result.boxes is None:
            return []
        lines = []
        for text, score, box in zip(result.txts, result.scores, result.boxes):
            text = " ".join(str(text).split())
            if not text or float(score) < MIN_CONFIDENCE:
                continue
            corners = tuple(
                (round(min(max(float(x) / width, 0.0), 1.0), 4), round(min(max(float(y) / height, 0.0), 1.0), 4))
                for x, y in box
            )
            lines.append(OcrLine(text, round(float(score), 4), corners))
        return lines
