"""Reading an original's bytes that the page cache already holds, on the trio thread, without waiting.

``preadv2`` with ``RWF_NOWAIT`` copies what is cached and answers EAGAIN instead of waiting for the
disk, so a read of cached bytes can be served where the request arrived, with no hand-off to a
worker thread (a hand-off costs more than the copy: see bench/bench_mount.py). A read that would
have to wait goes to the source's threads as before (``sourceio``), so a hung disk still stalls
only its own source.

Only for files on local filesystems, decided per open file by ``fstatfs``: there the cached path
never leaves memory. On network and FUSE filesystems a read may first revalidate the file with
its server, and wait for it, whatever the flag says; those always go to a thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import logging
import os

log = logging.getLogger(__name__)

RWF_NOWAIT: int = getattr(os, "RWF_NOWAIT", 0)

# statfs(2) f_type of local, block-backed filesystems (linux/magic.h); tmpfs answers EOPNOTSUPP to the flag.
LOCAL_FILESYSTEMS = {
    0xEF53: "ext2/3/4",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0xF2F52010: "f2fs",
    0x4D44: "vfat",
    0x2011BAB0: "exfat",
    0x7366746E: "ntfs3",
}


class _Statfs(ctypes.Structure):
    # struct statfs begins with f_type (__fsword_t, a long); the rest is read as padding.
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 256)]


@functools.lru_cache(maxsize=1)
def _fstatfs() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.fstatfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.POINTER(_Statfs)]
    fn.restype = ctypes.c_int
    return fn


def filesystem_magic(fd: int) -> int | None:
    """fstatfs's f_type of an open file, or None when it cannot be asked."""
    fn = _fstatfs()
    if fn is None:
        return None
    out = _Statfs()
    if fn(fd, ctypes.byref(out)) != 0:
        return None
    return int(out.f_type) & 0xFFFFFFFF


def cached_reads_possible(fd: int) -> bool:
    """Whether reads of this open file may try the page cache on the trio thread (blocking: call it
    where the file was opened, on the source's thread)."""
    return bool(RWF_NOWAIT) and filesystem_magic(fd) in LOCAL_FILESYSTEMS


class CachedReader:
    """Reads of one open original from the page cache. Every reader copies into one reply buffer: only
    the trio thread reads, and pyfuse3 writes a reply before any other request runs."""

    __slots__ = ("fd", "size", "enabled")
    _reply = bytearray(128 << 10)  # shared by all open files (grown to the largest read asked)

    def __init__(self, fd: int, size: int, enabled: bool) -> None:
        self.fd = fd
        self.size = size  # as opened: reads past it go to the file the usual way
        self.enabled = enabled

    def read(self, off: int, size: int) -> memoryview | None:
        """The bytes [off, off + size) (fewer at the end of the file), or None when any of them is not in
        the page cache, or the read is for the usual path (past the size as opened, or failing)."""
        want = min(size, self.size - off)
        if want <= 0 or not self.enabled:
            return None
        if len(CachedReader._reply) < want:
            CachedReader._reply = bytearray(want)
        view = memoryview(CachedReader._reply)[:want]
        try:
            n = os.preadv(self.fd, [view], off, RWF_NOWAIT)
        except BlockingIOError:  # not all cached: the disk has to be read, on a thread
            return None
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # this file does not take the flag after all
                log.debug("RWF_NOWAIT refused (%s): reads of fd %d go to threads", exc, self.fd)
                self.enabled = False
            return None  # an I/O error: the usual path reports it
        if n != want:  # partly cached (or the file shrank): the usual path reads it whole
            return None
        return view
