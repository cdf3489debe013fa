"""The least a pyfuse3 + trio server does per read: one file, served from memory, no threads.

    .venv/bin/python bench/pyfuse3_floor.py MOUNTPOINT FILE

Mounts MOUNTPOINT with one read-only file, FILE's name, whose bytes are FILE's,
held in memory; every read is answered with a slice of them. bench_mount.py reads
it next to bindfs and gallerfs: what is left between this and bindfs is pyfuse3's
and trio's cost per request (one trio task step, a request read and a reply
written per FUSE read), which no file system built on them can go below.
Unmount with fusermount3 -u.
"""

from __future__ import annotations

import errno
import os
import stat
import sys

import pyfuse3
import trio

FILE_INODE = pyfuse3.ROOT_INODE + 1


class Floor(pyfuse3.Operations):
    def __init__(self, name: bytes, data: bytes) -> None:
        super().__init__()
        self.name = name
        self.data = memoryview(data)

    def _attrs(self, inode: int) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = inode
        if inode == pyfuse3.ROOT_INODE:
            attrs.st_mode, attrs.st_nlink = stat.S_IFDIR | 0o555, 2
        else:
            attrs.st_mode, attrs.st_nlink, attrs.st_size = stat.S_IFREG | 0o444, 1, len(self.data)
        attrs.attr_timeout = attrs.entry_timeout = 300
        return attrs

    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:
        return self._attrs(inode)

    async def lookup(self, parent_inode: int, name: bytes,
                     ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:  # fmt: skip
        if parent_inode != pyfuse3.ROOT_INODE or name != self.name:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return self._attrs(FILE_INODE)

    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        return pyfuse3.FileInfo(fh=FILE_INODE, keep_cache=True)

    async def read(self, fh: int, off: int, size: int) -> memoryview:  # type: ignore[override]
        return self.data[off : off + size]


def main() -> None:
    mountpoint, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as fh:
        data = fh.read()
    pyfuse3.init(Floor(os.path.basename(os.fsencode(path)), data), mountpoint, {"fsname=pyfuse3-floor", "ro"})
    try:
        trio.run(pyfuse3.main)
    finally:
        pyfuse3.close()


if __name__ == "__main__":
    main()
