"""Which files are photos or videos, decided by file name extension, or by content when a name has none.

Content is checked in phase 2 (a PNG named .jpg is decoded as what it is, and
a file that is not media at all is recorded as an error), so phase 1 stays a
directory walk: the only file it reads is one whose name has no extension at
all (a camera dump, a file saved by a browser), and only its first bytes.
"""

from __future__ import annotations

import os
import stat

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


# What a sniffed file is indexed as (handlers of indexer.metadata.sniff; 'unknown' and 'empty' are not media).
_KIND_BY_HANDLER = {"image": "image", "heif": "image", "tiff": "image", "jxl": "image", "raw-tiff": "raw",
                    "raw-cr3": "raw", "video": "video"}  # fmt: skip


def content_kind(handler: str, named_kind: str) -> str:
    """The kind to index a file as once its content is known (phase 2): a JPEG named .mp4 is an image, an
    MP4 named .jpg a video. A plain TIFF header keeps the name's kind: many RAW formats are TIFF inside."""
    if handler == "tiff" or handler not in _KIND_BY_HANDLER:
        return named_kind
    return _KIND_BY_HANDLER[handler]


def sniff_kind(path: bytes | os.PathLike[bytes]) -> str | None:
    """'image', 'raw' or 'video' from a file's first bytes; None if not media, unreadable or not a regular file."""
    from gallerfs.indexer.metadata.sniff import HEAD_BYTES, sniff  # the metadata package: only for such files

    try:
        # O_NONBLOCK: a FIFO must not wait for a writer; the descriptor is checked before anything is read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        head = os.pread(fd, HEAD_BYTES, 0)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _KIND_BY_HANDLER.get(sniff(head).handler)


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, for messages: 'FIFO', 'socket', 'device', ..."""
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "not a file"


def kind_of(name: bytes, path: bytes | os.PathLike[bytes]) -> str | None:
    """media_kind() of a file name; a name without any extension is sniffed by content (path: the file)."""
    kind = media_kind(name)
    if kind is None and b"." not in name:  # not "x.jpg_original", "notes.txt": their extension says what they are
        return sniff_kind(path)
    return kind
