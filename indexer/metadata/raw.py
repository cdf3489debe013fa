"""Camera RAW files: metadata from their TIFF structure (CR2, NEF, DNG, ARW,
RW2, ...) or ISO-BMFF boxes (CR3), and the largest embedded JPEG preview,
which is what gallerfs decodes for thumbnails and hashes (no RAW demosaicing).

width/height are the sensor image's size (the largest image the file
describes), after orientation; the preview's size is kept in extra.
"""

from __future__ import annotations

import io
import logging
import mmap
import struct
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import MediaError
from . import Metadata, bmff, build, pick_date
from .exif import IFD_EXIF, IFD_GPS, from_exif, from_ifds
from .sniff import Sniffed

log = logging.getLogger(__name__)

CANON_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")
PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")
MAX_IFDS = 32
RAW_MIME = {
    "CR2": "image/x-canon-cr2", "NEF": "image/x-nikon-nef", "RW2": "image/x-panasonic-rw2",
    "DNG": "image/x-adobe-dng", "ARW": "image/x-sony-arw", "ORF": "image/x-olympus-orf",
    "PEF": "image/x-pentax-pef", "SRW": "image/x-samsung-srw", "RAF": "image/x-fujifilm-raf",
}


@dataclass(frozen=True)
class RawInfo:
    metadata: Metadata
    preview: tuple[int, int] | None  # (offset, length) of the JPEG preview in the file


class _Tiff:
    """Minimal TIFF IFD walker over a memory map (accepts RW2/ORF magic numbers)."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.endian = "<" if data[:2] == b"II" else ">"

    def u16(self, at: int) -> int:
        return struct.unpack_from(self.endian + "H", self.data, at)[0]

    def u32(self, at: int) -> int:
        return struct.unpack_from(self.endian + "I", self.data, at)[0]

    def ifd(self, offset: int) -> tuple[dict[int, tuple[int, int, int]], int]:
        """{tag: (type, count, value_or_offset_position)} and the next IFD offset."""
        if offset <= 0 or offset + 2 > len(self.data):
            return {}, 0
        count = self.u16(offset)
        if count > 1000 or offset + 2 + count * 12 + 4 > len(self.data):
            return {}, 0
        entries = {}
        for k in range(count):
            at = offset + 2 + k * 12
            tag, typ, n = struct.unpack_from(self.endian + "HHI", self.data, at)
            entries[tag] = (typ, n, at + 8)
        return entries, self.u32(offset + 2 + count * 12)

    def ints(self, entry: tuple[int, int, int]) -> list[int]:
        typ, n, pos = entry
        size = {3: 2, 4: 4, 13: 4, 7: 1, 1: 1}.get(typ)
        if size is None or n > 4096:
            return []
        if size * n > 4:
            pos = self.u32(pos)
        fmt = {2: "H", 4: "I", 1: "B"}[size]
        try:
            return list(struct.unpack_from(self.endian + fmt * n, self.data, pos))
        except struct.error:
            return []

    def first(self, entries: dict, tag: int) -> int | None:
        values = self.ints(entries[tag]) if tag in entries else []
        return values[0] if values else None


def _is_jpeg(data: Any, offset: int, length: int) -> bool:
    return length > 100 and 0 <= offset and offset + length <= len(data) and data[offset:offset + 3] == b"\xff\xd8\xff"


def _walk_tiff(data: Any) -> tuple[list[tuple[int, int]], list[tuple[int, int]], dict[int, int]]:
    """(image sizes, JPEG candidates (offset, length), Panasonic sensor tags) of a TIFF RAW."""
    tiff = _Tiff(data)
    sizes: list[tuple[int, int]] = []
    jpegs: list[tuple[int, int]] = []
    panasonic: dict[int, int] = {}
    todo = [tiff.u32(4)]
    seen: set[int] = set()
    while todo and len(seen) < MAX_IFDS:
        offset = todo.pop(0)
        if offset in seen or offset <= 0:
            continue
        seen.add(offset)
        entries, nxt = tiff.ifd(offset)
        if not entries:
            continue
        if nxt:
            todo.append(nxt)
        if 0x14A in entries:  # SubIFDs
            todo.extend(tiff.ints(entries[0x14A]))
        width, height = tiff.first(entries, 0x100), tiff.first(entries, 0x101)
        if width and height:
            sizes.append((width, height))
        start, length = tiff.first(entries, 0x201), tiff.first(entries, 0x202)
        if start and length and _is_jpeg(data, start, length):
            jpegs.append((start, length))
        if tiff.first(entries, 0x103) in (6, 7):
            strips, counts = (tiff.ints(entries[t]) if t in entries else [] for t in (0x111, 0x117))
            if len(strips) == 1 and len(counts) == 1 and _is_jpeg(data, strips[0], counts[0]):
                jpegs.append((strips[0], counts[0]))
        if data[2:4] == b"U\x00" and offset == tiff.u32(4):  # Panasonic RW2 IFD0
            for tag in (0x04, 0x05, 0x06, 0x07):
                value = tiff.first(entries, tag)
                if value is not None:
                    panasonic[tag] = value
            if 0x2E in entries:
                _typ, n, pos = entries[0x2E]
                start = tiff.u32(pos)
                if _is_jpeg(data, start, n):
                    jpegs.append((start, n))
    return sizes, jpegs, panasonic


def _exif_of_tiff(data: Any) -> tuple[dict[str, Any], list]:
    head = bytes(data[: min(len(data), 4 << 20)])
    if head[2:4] != b"*\x00" and head[2:4] != b"\x00*":
        head = head[:2] + (b"*\x00" if head[:2] == b"II" else b"\x00*") + head[4:]
    exif = Image.Exif()
    try:
        exif.load(head)
        return from_exif(exif)
    except Exception as exc:
        log.debug("RAW EXIF not readable by Pillow: %s", exc)
        return {}, []


def _exif_of_jpeg(data: Any, span: tuple[int, int]) -> tuple[dict[str, Any], list]:
    try:
        with Image.open(io.BytesIO(bytes(data[span[0]:span[0] + span[1]]))) as im:
            return from_exif(im.getexif())
    except Exception as exc:
        log.debug("embedded JPEG EXIF not readable: %s", exc)
        return {}, []


def _tiff_dict(blob: bytes) -> dict[int, Any]:
    exif = Image.Exif()
    try:
        exif.load(blob)
    except Exception as exc:
        log.debug("CR3 TIFF block not readable: %s", exc)
        return {}
    return dict(exif)


def _cr3(data: Any) -> tuple[dict[str, Any], list, list[tuple[int, int]], list[tuple[int, int]]]:
    moov = bmff.find(data, [b"moov"])
    ifd0: dict[int, Any] = {}
    sub: dict[int, Any] = {}
    gps: dict[int, Any] = {}
    jpegs: list[tuple[int, int]] = []
    if moov:
        for kind, s, e in bmff.iter_boxes(data, *moov):
            if kind == b"uuid" and data[s - 16:s] == CANON_UUID:
                for child, cs, ce in bmff.iter_boxes(data, s, e):
                    blob = bytes(data[cs:ce])
                    if child == b"CMT1":
                        ifd0 = _tiff_dict(blob)
                    elif child == b"CMT2":
                        sub = _tiff_dict(blob)
                    elif child == b"CMT4":
                        gps = _tiff_dict(blob)
                    elif child == b"THMB":
                        j = blob.find(b"\xff\xd8\xff")
                        if j >= 0:
                            jpegs.append((cs + j, ce - cs - j))
    for kind, s, e in bmff.iter_boxes(data):
        if kind == b"uuid" and data[s - 16:s] == PREVIEW_UUID:
            j = bytes(data[s:min(e, s + 256)]).find(b"\xff\xd8\xff")
            if j >= 0:
                jpegs.append((s + j, e - s - j))
    fields, dates = from_ifds(ifd0, sub, gps)
    sizes = []
    if ifd0.get(0x100) and ifd0.get(0x101):
        sizes.append((int(ifd0[0x100]), int(ifd0[0x101])))
    return fields, dates, sizes, jpegs


def read_raw(path: str | bytes, sniffed: Sniffed) -> RawInfo:
    """Metadata and preview location of a RAW file."""
    with open(path, "rb") as f:
        try:
            data: Any = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError as exc:
            raise MediaError("empty file (0 bytes)") from exc
    try:
        if sniffed.handler == "raw-cr3":
            fields, dates, sizes, jpegs = _cr3(data)
            fmt, mime = "CR3", "image/x-canon-cr3"
        else:
            sizes, jpegs, panasonic = _walk_tiff(data)
            fields, dates = _exif_of_tiff(data)
            if jpegs:  # the preview's own EXIF (RW2 keeps dates there)
                preview_fields, preview_dates = _exif_of_jpeg(data, max(jpegs, key=lambda j: j[1]))
                for key, value in preview_fields.items():
                    if key not in ("exif_width", "exif_height", "orientation"):
                        fields.setdefault(key, value)
                dates.extend(preview_dates)
            if len(panasonic) == 4:
                top, left, bottom, right = (panasonic[t] for t in (0x04, 0x05, 0x06, 0x07))
                if right > left and bottom > top:
                    sizes.append((right - left, bottom - top))
            fmt = _raw_format(data, fields)
            mime = RAW_MIME.get(fmt)
        if fields.get("exif_width") and fields.get("exif_height"):
            sizes.append((fields["exif_width"], fields["exif_height"]))
        if not sizes and not jpegs and not fields:
            raise MediaError(f"unreadable RAW file: no image data found ({sniffed.format})")
        width = height = None
        if sizes:
            width, height = max(sizes, key=lambda s: s[0] * s[1])
            if fields.get("orientation") in (5, 6, 7, 8):
                width, height = height, width
        preview = max(jpegs, key=lambda j: j[1]) if jpegs else None
        extra: dict[str, Any] = {"raw": True}
        meta = build(fields, pick_date(dates), width=width, height=height, fmt=fmt, mime=mime, extra=extra)
        return RawInfo(meta, preview)
    finally:
        data.close()


def _raw_format(data: Any, fields: dict[str, Any]) -> str:
    magic = bytes(data[:4])
    if magic == b"IIU\x00":
        return "RW2"
    if magic in (b"IIRO", b"IIRS"):
        return "ORF"
    if bytes(data[8:10]) == b"CR":
        return "CR2"
    make = (fields.get("make") or "").upper()
    for prefix, name in (("NIKON", "NEF"), ("SONY", "ARW"), ("PENTAX", "PEF"), ("SAMSUNG", "SRW"),
                         ("OLYMPUS", "ORF"), ("FUJIFILM", "RAF"), ("CANON", "CR2")):
        if make.startswith(prefix):
            return name
    return "DNG" if b"\xc6\x12" in bytes(data[:4096]) or b"\x12\xc6" in bytes(data[:4096]) else "TIFF-RAW"


def extract_raw(path: str | bytes, sniffed: Sniffed) -> Metadata:
    return read_raw(path, sniffed).metadata


def read_preview(path: str | bytes, span: tuple[int, int]) -> bytes:
    with open(path, "rb") as f:
        f.seek(span[0])
        return f.read(span[1])


__all__ = ["IFD_EXIF", "IFD_GPS", "RawInfo", "extract_raw", "read_preview", "read_raw"]
