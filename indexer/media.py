"""Which files are photos or videos, decided by file name extension.

Content is checked in phase 2 (a PNG named .jpg is decoded as what it is, and
a file that is not media at all is recorded as an error), so phase 1 stays a
pure directory walk.
"""

from __future__ import annotations

import os

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .tif .tiff .webp .gif .bmp .heic .heif .hif .avif .mpo .jxl".split()
)
RAW_EXTENSIONS = frozenset(
    ".cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .orf .rw2 .raf .dng .pef .srw .x3f .3fr .iiq .erf .kdc .mrw .rwl".split()
)
VIDEO_EXTENSIONS = frozenset(".mp4 .mov .m4v .avi .mkv .3gp .mts .m2ts .webm .wmv .mpg .mpeg".split())


def media_kind(name: str | bytes) -> str | None:
    """'image', 'raw', 'video', or None for files gallerfs does not index."""
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in RAW_EXTENSIONS:
        return "raw"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    return None
