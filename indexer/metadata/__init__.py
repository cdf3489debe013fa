"""Phase-2 metadata of one photo or video: `extract(path, kind) -> Metadata`.

The file's real type is sniffed from its bytes (extensions lie), then:
images go through Pillow (+ pillow-heif for HEIC/HEIF), RAW files through
their TIFF/ISO-BMFF structure and embedded preview, videos through PyAV plus a
small ISO-BMFF reader for what FFmpeg does not expose (rotation matrix, maker
boxes). Width/height are the decoded size after orientation is applied;
EXIF's claimed size is kept in `extra` only.

Dates: see `dates.py` (taken_at is local wall clock; sort_time reads it at its
UTC offset, or as UTC when the file has none; with no date at all the file's
mtime is used and taken_source is 'mtime').
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import MediaError, describe
from .dates import Taken, from_mtime
from .sniff import HEAD_BYTES, Sniffed, sniff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Metadata:
    """One row of the `metadata` table (without file_id). `extra` is JSON-serialisable."""

    taken_at: str | None = None
    utc_offset: str | None = None
    taken_source: str | None = None
    sort_time: float | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    f_number: float | None = None
    exposure_time: float | None = None
    iso: int | None = None
    focal_length: float | None = None
    width: int | None = None
    height: int | None = None
    orientation: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    duration: float | None = None
    format: str | None = None
    mime: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_DIRECT = ("make", "model", "lens", "f_number", "exposure_time", "iso", "focal_length",
           "orientation", "latitude", "longitude", "altitude")


def pick_date(dates: list[tuple[int, Taken]]) -> Taken | None:
    """The best-ranked date (lowest rank; first found on ties)."""
    if not dates:
        return None
    return min(enumerate(dates), key=lambda item: (item[1][0], item[0]))[1][1]


def build(fields: dict[str, Any], taken: Taken | None, *, width: int | None, height: int | None,
          fmt: str | None, mime: str | None, duration: float | None = None,
          extra: dict[str, Any] | None = None) -> Metadata:
    """Assemble a Metadata from reader fields and the chosen date (mtime is added later)."""
    values = {key: fields.get(key) for key in _DIRECT}
    for key in ("make", "model", "lens"):
        if isinstance(values[key], str):
            values[key] = " ".join(values[key].split()) or None
    extra = dict(extra or {})
    for key in ("exif_width", "exif_height"):
        if fields.get(key):
            extra[key] = fields[key]
    return Metadata(
        taken_at=taken.taken_at if taken else None,
        utc_offset=taken.utc_offset if taken else None,
        taken_source=taken.source if taken else None,
        sort_time=taken.sort_time if taken else None,
        width=width, height=height, duration=duration, format=fmt, mime=mime, extra=extra,
        **values,
    )


def with_mtime_fallback(meta: Metadata, mtime: float) -> Metadata:
    """Fill the date from the file's mtime when the file itself has none."""
    if meta.taken_at is not None:
        return meta
    taken = from_mtime(mtime)
    return replace(meta, taken_at=taken.taken_at, utc_offset=taken.utc_offset,
                   taken_source=taken.source, sort_time=taken.sort_time)


def read_head(path: str | bytes) -> bytes:
    with open(path, "rb") as f:
        return f.read(HEAD_BYTES)


def extract(path: str | bytes, kind: str, *, max_pixels: int | None = None) -> Metadata:
    """Metadata of one file. Raises MediaError (one line) for unreadable/corrupt input.

    `kind` is media_kind()'s guess from the name ('image', 'raw', 'video'); the
    bytes decide how the file is read. Only headers are parsed here (except
    for formats whose metadata can sit after the pixels, e.g. PNG eXIf).
    """
    try:
        st = os.stat(path)
        head = read_head(path)
    except OSError as exc:
        raise MediaError(f"cannot read file: {exc.strerror or exc}") from exc
    sniffed = sniff(head)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata
            meta = _extract(path, kind, sniffed, max_pixels)
    except MediaError:
        raise
    except Exception as exc:  # a parser bug on odd input must not escape as a crash
        what = sniffed.format if sniffed.handler != "unknown" else kind
        raise MediaError(f"unreadable {what}: {describe(exc)}") from exc
    return with_mtime_fallback(meta, st.st_mtime)


def _extract(path: str | bytes, kind: str, sniffed: Sniffed, max_pixels: int | None) -> Metadata:
    from . import image, raw, video

    if sniffed.handler == "empty":
        raise MediaError("empty file (0 bytes)")
    if sniffed.handler == "jxl":
        return unsupported_jxl()
    if sniffed.handler in ("raw-tiff", "raw-cr3") or (sniffed.handler == "tiff" and kind == "raw"):
        return raw.extract_raw(path, sniffed)
    if sniffed.handler == "video" or (sniffed.handler == "unknown" and kind == "video"):
        return video.extract_video(path, sniffed)
    with image.open_image(path, sniffed, max_pixels) as im:
        return image.image_metadata(im, sniffed, path)


def unsupported_jxl() -> Metadata:
    """JPEG XL: recognised, but no installed decoder reads it (Pillow has no JXL plugin)."""
    return Metadata(format="JXL", mime="image/jxl", extra={"unsupported": "no JPEG XL decoder installed"})


__all__ = ["MediaError", "Metadata", "Sniffed", "build", "extract", "pick_date", "with_mtime_fallback"]
