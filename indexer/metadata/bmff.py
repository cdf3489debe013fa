"""A small ISO base media file (MP4/MOV/HEIF/CR3) box reader.

FFmpeg exposes most video metadata, but not the track matrix (rotation),
maker boxes in `udta` (Pentax `©inf`, GoPro `GPMF`), nor Canon CR3's boxes;
this reads just those, from an in-memory `moov`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from typing import BinaryIO

MAX_MOOV = 64 << 20  # a moov larger than this is not read (metadata is then FFmpeg's only)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload_start, payload_end) of the boxes in data[start:end]."""
    end = len(data) if end is None else end
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, i)
        header = 8
        if size == 1:
            if i + 16 > end:
                return
            size = struct.unpack_from(">Q", data, i + 8)[0]
            header = 16
        elif size == 0:
            size = end - i
        if size < header or i + size > end:
            return
        payload = i + header
        if kind == b"uuid":
            payload += 16
        yield kind, payload, i + size
        i += size


def find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Payload span of the first box at a path like [b'moov', b'udta']."""
    span = (start, len(data) if end is None else end)
    for name in path:
        for kind, s, e in iter_boxes(data, *span):
            if kind == name:
                span = (s, e)
                break
        else:
            return None
    return span


def read_top_box(f: BinaryIO, name: bytes, limit: int = MAX_MOOV) -> bytes | None:
    """Payload of the first top-level box called `name`, read from a file."""
    f.seek(0, 2)
    file_end = f.tell()
    pos = 0
    while pos + 8 <= file_end:
        f.seek(pos)
        header = f.read(16)
        if len(header) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", header)
        hlen = 8
        if size == 1 and len(header) >= 16:
            size = struct.unpack_from(">Q", header, 8)[0]
            hlen = 16
        elif size == 0:
            size = file_end - pos
        if size < hlen:
            return None
        if kind == name:
            if size - hlen > limit:
                return None
            f.seek(pos + hlen)
            return f.read(size - hlen)
        pos += size
    return None


def track_rotation(moov: bytes) -> int | None:
    """Clockwise display rotation (0/90/180/270) of the first video track's matrix."""
    for kind, s, e in iter_boxes(moov):
        if kind != b"trak":
            continue
        hdlr = find(moov, [b"mdia", b"hdlr"], s, e)
        if hdlr is None or moov[hdlr[0] + 8:hdlr[0] + 12] != b"vide":
            continue
        tkhd = find(moov, [b"tkhd"], s, e)
        if tkhd is None:
            return None
        version = moov[tkhd[0]]
        offset = tkhd[0] + (4 + 32 if version == 1 else 4 + 20) + 16
        if offset + 36 > tkhd[1]:
            return None
        a, b = struct.unpack_from(">ii", moov, offset)
        degrees = round(math.degrees(math.atan2(b / 65536.0, a / 65536.0))) % 360
        return min((0, 90, 180, 270), key=lambda r: min(abs(r - degrees), 360 - abs(r - degrees)))
    return None


def movie_duration(moov: bytes) -> float | None:
    """Duration in seconds from moov/mvhd (what the file declares, as exiftool reports it)."""
    span = find(moov, [b"mvhd"])
    if span is None:
        return None
    s = span[0]
    try:
        if moov[s] == 1:
            timescale, duration = struct.unpack_from(">IQ", moov, s + 20)
        else:
            timescale, duration = struct.unpack_from(">II", moov, s + 12)
    except struct.error:
        return None
    if not timescale or not duration or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
        return None
    return duration / timescale


def udta_texts(moov: bytes) -> dict[str, str]:
    """QuickTime '©xxx' text atoms of moov/udta, e.g. {'©mak': 'Apple'}."""
    out: dict[str, str] = {}
    span = find(moov, [b"udta"])
    if span is None:
        return out
    for kind, s, e in iter_boxes(moov, *span):
        if kind[:1] != b"\xa9" or e - s < 4:
            continue
        length = struct.unpack_from(">H", moov, s)[0]
        raw = moov[s + 4:s + 4 + length]
        text = raw.decode("utf-8", "replace").replace("\x00", " ").strip()
        if text:
            out[kind.decode("latin-1")] = text
    return out


def gpmf_model(moov: bytes) -> str | None:
    """Camera model from a GoPro GPMF box in udta (KLV key 'MINF')."""
    span = find(moov, [b"udta", b"GPMF"])
    if span is None:
        return None
    return _klv_string(moov, span[0], span[1], b"MINF")


def _klv_string(data: bytes, start: int, end: int, key: bytes, depth: int = 0) -> str | None:
    i = start
    while i + 8 <= end:
        k = data[i:i + 4]
        kind, size, repeat = data[i + 4], data[i + 5], struct.unpack_from(">H", data, i + 6)[0]
        length = size * repeat
        body = i + 8
        if k == key and kind == ord("c"):
            return data[body:body + length].split(b"\x00", 1)[0].decode("latin-1").strip() or None
        if kind == 0 and depth < 4:
            found = _klv_string(data, body, min(end, body + length), key, depth + 1)
            if found:
                return found
        i = body + ((length + 3) & ~3)
    return None
