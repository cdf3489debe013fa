"""Canon CIFF ("HEAPJPGM") blocks: the camera metadata of some Canon
PowerShot JPEGs from around 2000, stored in an APP0 segment instead of EXIF.

Pillow keeps the APP0 body in `JpegImageFile.applist`; `from_ciff` parses it.
Only what gallerfs uses is read: make/model (tag 0x080a), capture time
(0x180e, local wall clock) and rotation (0x1810 ImageInfo).
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

from .dates import Taken, format_local

RANK_CIFF = 7


def _walk(heap: bytes, start: int, end: int, out: dict[int, bytes], depth: int = 0) -> None:
    if end - start < 6 or depth > 4:
        return
    table = start + struct.unpack_from("<I", heap, end - 4)[0]
    if not start <= table < end - 2:
        return
    count = struct.unpack_from("<H", heap, table)[0]
    for k in range(min(count, 256)):
        at = table + 2 + 10 * k
        if at + 10 > end:
            return
        tag, size, offset = struct.unpack_from("<HII", heap, at)
        if tag & 0xC000 == 0x4000:  # value stored in the entry itself
            out.setdefault(tag & 0x3FFF, heap[at + 2:at + 10])
            continue
        lo, hi = start + offset, start + offset + size
        if hi > end:
            continue
        if (tag >> 8) & 0x38 in (0x28, 0x30):  # sub-heap
            _walk(heap, lo, hi, out, depth + 1)
        else:
            out.setdefault(tag & 0x3FFF, heap[lo:hi])


def from_ciff(block: bytes | None) -> tuple[dict[str, Any], list[tuple[int, Taken]]]:
    if not block or block[:2] != b"II":
        return {}, []
    header = struct.unpack_from("<I", block, 2)[0]
    records: dict[int, bytes] = {}
    try:
        _walk(block, header, len(block), records)
    except struct.error:
        return {}, []
    fields: dict[str, Any] = {}
    dates: list[tuple[int, Taken]] = []
    names = records.get(0x080A)
    if names:
        parts = [p.decode("latin-1").strip() for p in names.split(b"\x00")]
        if parts and parts[0]:
            fields["make"] = parts[0]
        if len(parts) > 1 and parts[1]:
            fields["model"] = parts[1]
    when = records.get(0x180E)
    if when and len(when) >= 4:
        seconds = struct.unpack_from("<I", when)[0]
        if seconds:
            stamp = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
            dates.append((RANK_CIFF, Taken(format_local(stamp), None, "exif")))
    info = records.get(0x1810)
    if info and len(info) >= 16:
        rotation = struct.unpack_from("<i", info, 12)[0]
        fields["ciff_rotation"] = rotation
    return fields, dates
