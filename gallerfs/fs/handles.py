"""Open file handles: originals (read, in-place write), generated text, journal files, copies into albums.

Blocking code, no pyfuse3: the ``Operations`` class decides which thread runs it.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable

from gallerfs.fs.nodes import Attr, FILE_MODE, Node
from gallerfs.fs.pagecache import cached_reads_possible

if TYPE_CHECKING:
    from gallerfs.fs.sourceio import ReadAhead

log = logging.getLogger(__name__)


class Handle:
    fd = -1
    ahead: ReadAhead | None = None  # read-ahead of a read-only original (gallerfs.fs.originals)

    def read(self, off: int, size: int) -> bytes:
        return os.pread(self.fd, size, off)

    def write(self, off: int, buf: bytes) -> int:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class FdHandle(Handle):
    """A plain passthrough (journal files)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, off: int, buf: bytes) -> int:
        return os.pwrite(self.fd, buf, off)


class TextHandle(Handle):
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, off: int, size: int) -> bytes:
        return self.data[off : off + size]


class OriginalHandle(Handle):
    """An original opened through the mount.

    Writes go to the original, but a truncation (``O_TRUNC`` or ``ftruncate(0)``)
    is deferred: while the rewritten bytes equal the original's, nothing is
    written, so re-saving or re-copying identical content never damages or
    touches the original. At close the file is cut to the length written.
    """

    def __init__(self, fd: int, file_id: int, source_id: int, ino: int, writable: bool, truncate: bool) -> None:
        self.fd = fd
        self.file_id = file_id
        self.source_id = source_id
        self.ino = ino
        self.writable = writable
        self.opened_stat = os.fstat(fd)
        self.size = self.opened_stat.st_size
        self.current_size = self.size  # kept up to date by our own writes: getattr never waits on the disk
        # Read-only, on a local filesystem: reads of cached bytes may be served on the trio thread (pagecache).
        self.cached_reads = not writable and cached_reads_possible(fd)
        self.truncate_pending = truncate
        self.high = 0  # end of the highest byte written since the deferred truncation
        self.changed = False

    @classmethod
    def open(cls, path: bytes, file_id: int, source_id: int, ino: int, writable: bool, truncate: bool) -> OriginalHandle:
        """Blocking: open the original at *path* (ENOMEDIUM when it is not there)."""
        try:
            fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            raise OSError(errno.ENOMEDIUM, os.strerror(errno.ENOMEDIUM)) from None
        try:
            return cls(fd, file_id, source_id, ino, writable, truncate and writable)
        except BaseException:
            os.close(fd)
            raise

    def request_truncate(self, length: int) -> None:
        if not self.writable:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        if length == 0:
            self.truncate_pending = True
            self.high = 0
        else:
            os.ftruncate(self.fd, length)
            self.truncate_pending = False
            self.changed = True
            self.current_size = length

    def read(self, off: int, size: int) -> bytes:
        if self.truncate_pending:
            size = max(0, min(size, self.high - off))
        return os.pread(self.fd, size, off) if size else b""

    def write(self, off: int, buf: bytes) -> int:
        if not self.writable:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        if self.truncate_pending and not self.changed and os.pread(self.fd, len(buf), off) == buf:
            self.high = max(self.high, off + len(buf))
            return len(buf)
        written = os.pwrite(self.fd, buf, off)
        self.high = max(self.high, off + written)
        self.current_size = max(self.current_size, off + written)
        self.changed = True
        return written

    def finish(self) -> os.stat_result | None:
        """Apply a deferred truncation; the new stat if the original changed."""
        if self.truncate_pending and self.high != self.size:
            os.ftruncate(self.fd, self.high)
            self.current_size = self.high
            self.changed = True
        self.truncate_pending = False
        if self.changed:
            self.changed = False
            os.fsync(self.fd)
            return os.fstat(self.fd)
        return None

    def live_size(self) -> int:
        """The size as written through this handle so far (no syscall: it may run on the trio thread)."""
        return self.high if self.truncate_pending else self.current_size


class UploadNode(Node):
    """The file ``cp`` creates inside an album until the copy is recognised."""

    key: tuple[Hashable, ...]

    def __init__(self, serial: int) -> None:
        self.key = ("upload", serial)
        self.size = 0

    def attr(self) -> Attr:
        return Attr(FILE_MODE, self.size, 0, 0, 1)


@dataclass
class UploadHandle(Handle):
    """A copy dropped into an album: recognised as a library file, never stored.

    The written bytes are compared with the originals that have the same name
    (as they arrive, so nothing is buffered); a file renamed on the way is
    recognised by its SHA-256 against the library's content hashes.
    """

    node: UploadNode
    parent: int
    name: bytes
    candidates: dict[int, int] = field(default_factory=dict)  # file id -> fd of its original
    sha: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    pos: int = 0
    sequential: bool = True
    result: int | None = None  # the file id, once recognised

    def write(self, off: int, buf: bytes) -> int:
        if off == self.pos and self.sequential:
            self.sha.update(buf)
            self.pos += len(buf)
        else:
            self.sequential = False
        for file_id, fd in list(self.candidates.items()):
            try:
                same = os.pread(fd, len(buf), off) == buf
            except OSError:
                same = False
            if not same:
                os.close(fd)
                del self.candidates[file_id]
        self.node.size = max(self.node.size, off + len(buf))
        return len(buf)

    def read(self, off: int, size: int) -> bytes:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))

    def matching_ids(self) -> list[int]:
        """Originals whose every byte matched and whose size is the size written."""
        return sorted(i for i, fd in self.candidates.items() if os.fstat(fd).st_size == self.node.size)

    def digest(self) -> str | None:
        return self.sha.hexdigest() if self.sequential and self.pos == self.node.size else None

    def close(self) -> None:
        for fd in self.candidates.values():
            os.close(fd)
        self.candidates.clear()


class HandleTable:
    """Open file handles by number, and the numbers of directory handles (the trio thread only).

    File and directory handles share one counter, so a number is never both.
    """

    def __init__(self) -> None:
        self._files: dict[int, Handle] = {}
        self.read_ahead: dict[int, ReadAhead] = {}  # the handles that have one: ``Operations.read``'s fast path
        self._next = itertools.count(1)

    def number(self) -> int:
        """A fresh handle number (directory handles take theirs here too)."""
        return next(self._next)

    def add(self, handle: Handle) -> int:
        fh = self.number()
        self._files[fh] = handle
        if handle.ahead is not None:
            self.read_ahead[fh] = handle.ahead
        return fh

    def __getitem__(self, fh: int) -> Handle:
        return self._files[fh]

    def get(self, fh: int | None) -> Handle | None:
        return None if fh is None else self._files.get(fh)

    def replace(self, fh: int, handle: Handle) -> None:
        self._files[fh] = handle
        self.read_ahead.pop(fh, None)
        if handle.ahead is not None:
            self.read_ahead[fh] = handle.ahead

    def pop(self, fh: int) -> Handle | None:
        self.read_ahead.pop(fh, None)
        return self._files.pop(fh, None)

    def originals(self) -> list[OriginalHandle]:
        return [h for h in self._files.values() if isinstance(h, OriginalHandle)]

    def close_all(self) -> None:
        """At unmount: close whatever is still open."""
        for handle in list(self._files.values()):
            try:
                handle.close()
            except OSError:
                pass
        self._files.clear()
        self.read_ahead.clear()
