"""Videos through PyAV (FFmpeg): duration, creation time, size after rotation,
QuickTime/MP4 location (©xyz, com.apple.quicktime.location.ISO6709), make and
model, and one decoded frame for the thumbnail.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import av
from PIL import Image

from ..errors import MediaError, describe
from . import Metadata, bmff, build, pick_date
from .dates import Taken, from_utc, parse_date
from .exif import valid_position
from .sniff import Sniffed

log = logging.getLogger(__name__)

_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")
_ROTATE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
FRAME_AT = 1.0  # seconds into the video for the thumbnail frame


def parse_iso6709(text: str | None) -> dict[str, float]:
    """'+38.1893-119.9558+2004.158/' -> latitude, longitude[, altitude]; {} if invalid."""
    if not text:
        return {}
    m = _ISO6709.match(text)
    if not m:
        return {}
    lat, lon = float(m.group(1)), float(m.group(2))
    if not valid_position(lat, lon):
        return {}
    out = {"latitude": lat, "longitude": lon}
    if m.group(3):
        out["altitude"] = float(m.group(3))
    return out


@contextmanager
def _open(path: str | bytes) -> Iterator[Any]:
    """av.open by name when the name is valid UTF-8, else through a Python file object."""
    name = os.fsdecode(path)
    handle = None
    try:
        try:
            name.encode("utf-8")
            target: Any = name
        except UnicodeEncodeError:  # non-UTF-8 file name: FFmpeg cannot take it as text
            handle = open(path, "rb")
            target = handle
        try:
            container = av.open(target, mode="r")
        except av.FFmpegError as exc:
            raise MediaError(f"unreadable video: {describe(exc)}") from exc
        with container:
            yield container
    finally:
        if handle is not None:
            handle.close()


def _moov(path: str | bytes, sniffed: Sniffed) -> bytes | None:
    if sniffed.format not in ("MOV", "MP4", "M4V", "3GP", "CR3"):
        return None
    try:
        with open(path, "rb") as f:
            return bmff.read_top_box(f, b"moov")
    except OSError:
        return None


def _duration(container: Any, stream: Any) -> float | None:
    if container.duration and container.duration > 0:
        return container.duration / 1_000_000
    if stream.duration and stream.time_base and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if stream.frames and stream.time_base:
        return float(stream.frames * stream.time_base)
    return None


def _dates(meta: dict[str, str], sniffed: Sniffed) -> list[tuple[int, Taken]]:
    dates: list[tuple[int, Taken]] = []
    keyed = parse_date(meta.get("com.apple.quicktime.creationdate"), "quicktime")
    if keyed:
        dates.append((0, keyed))
    created = meta.get("creation_time")
    if created:
        if sniffed.format == "AVI":  # RIFF IDIT / INFO ICRD: local time, no zone
            taken = parse_date(created, "riff")
            if taken:
                dates.append((2, taken))
        else:  # QuickTime CreateDate: UTC by specification
            taken = parse_date(created, "quicktime")
            if taken and taken.taken_at[:4] not in ("1904", "1970"):
                when = dt.datetime.fromisoformat(taken.taken_at).replace(tzinfo=dt.UTC)
                dates.append((2, from_utc(when, "quicktime")))
    return dates


def _video_stream(container: Any) -> Any:
    streams = [s for s in container.streams.video if s.codec_context is not None]
    if not streams:
        raise MediaError("no decodable video stream")
    return streams[0]


def extract_video(path: str | bytes, sniffed: Sniffed) -> Metadata:
    """Metadata of a video file."""
    with _open(path) as container:
        return _metadata(path, sniffed, container, _video_stream(container))


def read_video(path: str | bytes, sniffed: Sniffed) -> tuple[Metadata, Image.Image | None, MediaError | None]:
    """Metadata and an upright thumbnail frame from one opening of the file.

    The frame is None (with the reason) when no frame decodes; metadata problems raise.
    """
    with _open(path) as container:
        stream = _video_stream(container)
        meta = _metadata(path, sniffed, container, stream)
        try:
            frame = _grab_from(container, stream, FRAME_AT, seek=True)
        except _SeekFailed:
            frame = None
        except MediaError as exc:
            return meta, None, exc
    try:
        if frame is None:  # not seekable: reopen and decode from the start
            frame = _grab(path, FRAME_AT, seek=False)
    except MediaError as exc:
        return meta, None, exc
    rotation = meta.extra.get("rotation")
    if rotation in _ROTATE:
        frame = frame.transpose(_ROTATE[rotation])
    return meta, frame, None


def _metadata(path: str | bytes, sniffed: Sniffed, container: Any, stream: Any) -> Metadata:
    meta = {str(k): str(v) for k, v in container.metadata.items()}
    moov = _moov(path, sniffed)
    rotation = bmff.track_rotation(moov) if moov else None
    texts = bmff.udta_texts(moov) if moov else {}
    fields: dict[str, Any] = {}
    fields["make"] = meta.get("com.apple.quicktime.make") or meta.get("make") or texts.get("©mak")
    fields["model"] = meta.get("com.apple.quicktime.model") or meta.get("model") or texts.get("©mod")
    if not fields["model"] and moov:
        fields["model"] = bmff.gpmf_model(moov)
    if not fields["make"] and stream.metadata.get("vendor_id") == "pent" and texts.get("©inf"):
        fields["make"] = texts["©inf"]  # Pentax cameras put their make in ©inf
    fields.update(parse_iso6709(meta.get("com.apple.quicktime.location.ISO6709") or meta.get("location")
                                or texts.get("©xyz")))
    duration = (bmff.movie_duration(moov) if moov else None) or _duration(container, stream)
    width, height = stream.width or None, stream.height or None
    if rotation in (90, 270) and width and height:
        width, height = height, width
    fmt = sniffed.format if sniffed.handler == "video" else (container.format.name.split(",")[0].upper())
    extra: dict[str, Any] = {"codec": stream.codec_context.name}
    if rotation:
        extra["rotation"] = rotation
    if stream.average_rate:
        extra["fps"] = round(float(stream.average_rate), 3)
    return build(fields, pick_date(_dates(meta, sniffed)), width=width, height=height, fmt=fmt,
                 mime=sniffed.mime, duration=duration, extra=extra)


class _SeekFailed(Exception):
    pass


def video_frame(path: str | bytes, rotation: int | None, at: float = FRAME_AT) -> Image.Image:
    """An upright RGB frame ~`at` seconds in (the first frame for videos shorter than 2*at)."""
    try:
        image = _grab(path, at, seek=True)
    except _SeekFailed:  # not seekable (some AVIs): decode from the start instead
        image = _grab(path, at, seek=False)
    if rotation in _ROTATE:
        image = image.transpose(_ROTATE[rotation])
    return image


def _grab(path: str | bytes, at: float, seek: bool) -> Image.Image:
    with _open(path) as container:
        return _grab_from(container, _video_stream(container), at, seek)


def _grab_from(container: Any, stream: Any, at: float, seek: bool) -> Image.Image:
    duration = _duration(container, stream) or 0.0
    target = at if duration >= 2 * at else 0.0
    if seek and target > 0 and stream.time_base:
        try:
            container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise _SeekFailed() from exc
    frame = None
    try:
        for count, candidate in enumerate(container.decode(stream)):
            frame = candidate
            if candidate.time is None or candidate.time >= target - 0.02 or count > 300:
                break
    except av.FFmpegError as exc:
        if frame is None:
            raise MediaError(f"cannot decode video frame: {describe(exc)}") from exc
    if frame is None:
        raise MediaError("video has no decodable frame")
    return frame.to_image()


__all__ = ["extract_video", "parse_iso6709", "read_video", "video_frame"]
