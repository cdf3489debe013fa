"""Image preprocessing exactly as CLIP's: RGB, bicubic resize of the short side,
centre crop, scale to [0, 1], normalise with CLIP's mean and std.

JPEGs are decoded with Pillow's ``draft`` (DCT-domain downscaling to the
smallest size still at least the target), so decoding a 12-MP photo costs a few
milliseconds instead of a hundred. EXIF orientation is applied so the model
sees the photo upright, as a person does.
"""

from __future__ import annotations

import logging
import os

import numpy as np
from PIL import Image, ImageOps

log = logging.getLogger(__name__)

MEAN = np.array((0.48145466, 0.4578275, 0.40821073), dtype=np.float32)
STD = np.array((0.26862954, 0.26130258, 0.27577711), dtype=np.float32)
IMAGE_SIZE = 224

try:  # HEIC/HEIF/AVIF support, as in the rest of the indexer
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - a declared dependency
    log.warning("pillow-heif is missing: HEIC photos cannot be embedded")


class ImageDecodeError(Exception):
    """The file could not be turned into a model input; the message is one line."""


def load_image(path: str | os.PathLike[str] | bytes, size: int = IMAGE_SIZE, max_pixels: int = 250_000_000) -> Image.Image:
    """Decode a photo for CLIP: upright, RGB, short side at least ``size`` when the file allows."""
    try:
        with Image.open(os.fsdecode(path) if isinstance(path, bytes) else path) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageDecodeError(f"image of {width}x{height} pixels is over the {max_pixels}-pixel limit")
            if im.format == "JPEG":
                # Ask for the short side >= size; draft keeps the aspect ratio.
                scale = size / min(width, height)
                im.draft("RGB", (max(size, round(width * scale)), max(size, round(height * scale))))
            im.load()
            im = ImageOps.exif_transpose(im) or im
            return im.convert("RGB")
    except ImageDecodeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, EOFError) as exc:
        raise ImageDecodeError(f"cannot decode image: {exc}".splitlines()[0]) from None


def resize_and_crop(img: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """torchvision ``Resize(size, BICUBIC)`` then ``CenterCrop(size)``, on a PIL image."""
    width, height = img.size
    if width <= height:
        new_w, new_h = size, int(size * height / width)
    else:
        new_w, new_h = int(size * width / height), size
    if (new_w, new_h) != (width, height):
        img = img.resize((new_w, new_h), Image.Resampling.BICUBIC)
    left = int(round((new_w - size) / 2.0))
    top = int(round((new_h - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


def to_tensor(img: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """[3, size, size] float32, normalised the way CLIP was trained."""
    arr = np.asarray(resize_and_crop(img.convert("RGB"), size), dtype=np.float32)
    arr = (arr / 255.0 - MEAN) / STD
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess_file(path: str | os.PathLike[str] | bytes, size: int = IMAGE_SIZE, max_pixels: int = 250_000_000) -> np.ndarray:
    """Decode and preprocess one file; raises ImageDecodeError with a one-line reason."""
    return to_tensor(load_image(path, size, max_pixels), size)
