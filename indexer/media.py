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


_KIND_BY_EXTENSION = {
    **{e: "image" for e in IMAGE_EXTENSIONS},
    **{e: "raw" for e in RAW_EXTENSIONS},
    **{e: "video" for e in VIDEO_EXTENSIONS},
}
_KIND_BY_BYTES_EXTENSION = {e.encode(): kind for e, kind in _KIND_BY_EXTENSION.items()}


def media_kind(name: str | bytes) -> str | None:
    """'image', 'raw', 'video', or None for files gallerfs does not index."""
    if isinstance(name, bytes):  # the walk's hot path: no decoding
        dot = name.rfind(b".")
        return _KIND_BY_BYTES_EXTENSION.get(name[dot:].lower()) if dot > 0 else None
    return _KIND_BY_EXTENSION.get(os.path.splitext(name)[1].lower())
