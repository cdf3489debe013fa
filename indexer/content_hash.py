"""Content hashes of files: what exact-duplicate finding compares, without the imaging stack.

- ``file_hashes``: sha256 of the whole file (read in 1 MiB chunks) and a cheap
  "partial" sha256 of the size plus the first and last 64 KiB, used to rule out
  duplicates before reading whole files.
- ``partial_digest``: the partial hash from those two pieces, so that every
  reader (phase 2, the duplicate finder) stores the same format.

Kept apart from ``indexer.hashing`` (perceptual hashes: numpy, Pillow) so that
``gallerfs duplicates --exact`` starts without importing either.
"""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20
PARTIAL = 64 * 1024


def partial_digest(size: int, head: bytes, tail: bytes) -> str:
    """sha256(decimal size + b"\\0" + first 64 KiB + last 64 KiB) as hex; tail is b"" for files of at most 64 KiB."""
    digest = hashlib.sha256(str(size).encode() + b"\0")
    digest.update(head)
    digest.update(tail)
    return digest.hexdigest()


def file_hashes(path: str | bytes | int) -> tuple[str, str]:
    """(content_hash, partial_hash) as sha256 hex strings (see ``partial_digest``), of a path or of an
    open descriptor (closed after)."""
    full = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        while chunk := f.read(CHUNK):
            full.update(chunk)
        head = os.pread(fd, PARTIAL, 0)
        tail = os.pread(fd, PARTIAL, size - PARTIAL) if size > PARTIAL else b""
    return full.hexdigest(), partial_digest(size, head, tail)
