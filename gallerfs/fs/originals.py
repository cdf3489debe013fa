"""Originals opened through the mount: opened, read, written and closed on their source's threads.

Every call that touches an original goes through its source's gate
(``sourceio.SourceGates``), so a source that stops answering stalls only its
own files; a read-only original gets a ``ReadAhead`` for sequential reads. An
original written through the mount is marked for re-indexing when the write
is finished (flush or release), and the mount's listings follow at once.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Callable, TypeVar

import trio

from gallerfs.db import albums as album_db
from gallerfs.db import tree as q
from gallerfs.fs.handles import HandleTable, OriginalHandle
from gallerfs.fs.inodes import InodeTable
from gallerfs.fs.nodes import LibraryFile
from gallerfs.fs.refresh import Refresher, invalidate_inodes
from gallerfs.fs.sourceio import Buffers, ReadAhead, SourceGates
from gallerfs.fs.workers import Workers

T = TypeVar("T")


class Originals:
    def __init__(self, inodes: InodeTable, workers: Workers, handles: HandleTable, gates: SourceGates,
                 buffers: Buffers, refresher: Refresher) -> None:  # fmt: skip
        self.inodes = inodes
        self.workers = workers
        self.handles = handles
        self.gates = gates  # a few threads per source
        self.buffers = buffers  # read-ahead buffers of all open originals
        self.refresher = refresher

    async def open(self, node: LibraryFile, inode: int, flags: int) -> OriginalHandle:
        loc = await self.workers.read(lambda: q.file_location(self.workers.pool.get(), node.row.id))
        if loc is None:
            raise OSError(errno.ENOENT, "no longer in the library")
        if not loc.online:
            raise OSError(errno.ENOMEDIUM, os.strerror(errno.ENOMEDIUM))
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        gate = self.gates.get(node.row.source_id, os.fsdecode(loc.source_path))
        handle = await gate.run(OriginalHandle.open, loc.path, node.row.id, node.row.source_id, inode, writable,
                                bool(flags & os.O_TRUNC))  # fmt: skip
        if not writable:
            handle.ahead = ReadAhead(gate, handle.fd, handle.size, self.buffers, cached_reads=handle.cached_reads)
        return handle

    async def io(self, handle: OriginalHandle, fn: Callable[..., T], *args: Any) -> T:
        """A blocking call on an open original, on its source's threads."""
        return await self.gates.get(handle.source_id).run(fn, *args)

    async def read(self, handle: OriginalHandle, off: int, size: int) -> bytes | memoryview:
        if handle.ahead is not None:
            return await handle.ahead.read(off, size)
        return await self.io(handle, handle.read, off, size)

    async def write(self, handle: OriginalHandle, off: int, buf: bytes) -> int:
        written = await self.io(handle, handle.write, off, buf)
        self.stale_read_ahead(handle)
        return written

    def stale_read_ahead(self, writer: OriginalHandle) -> None:
        """An original was written through *writer*: other handles' read-ahead of it is stale."""
        for other in self.handles.originals():
            if other.ahead is not None and other.file_id == writer.file_id:
                other.ahead.forget()

    def live_size(self, inode: int) -> int | None:
        """The size of *inode* as written through an open handle so far, or None when none writes it."""
        size = None
        for handle in self.handles.originals():  # (the last one wins, as it always has)
            if handle.ino == inode and handle.writable:
                size = handle.live_size()
        return size

    async def close(self, handle: OriginalHandle) -> None:
        if handle.ahead is not None:
            await handle.ahead.close()  # no read in flight may outlive the descriptor
        # queued even behind a stuck source: the descriptor is closed once the source answers
        await self.gates.get(handle.source_id).run(handle.close, even_if_stalled=True)

    async def finish(self, handle: OriginalHandle) -> None:
        """A write is done (flush, release): the deferred truncation, fsync, and a re-index if it changed."""
        st = await self.io(handle, handle.finish)  # ftruncate, fsync: on the source's threads
        if st is not None:
            await self.changed(handle, st)

    async def changed(self, handle: OriginalHandle, st: os.stat_result) -> None:
        await self.workers.write(album_db.mark_file_pending, self.workers.writer.get(), handle.file_id, st.st_size,
                                 st.st_mtime_ns, st.st_ctime_ns)  # fmt: skip
        node = self.inodes.get(handle.ino)
        if isinstance(node, LibraryFile):
            row = node.row
            node.row = type(row)(row.id, row.source_id, row.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        await trio.to_thread.run_sync(invalidate_inodes, [handle.ino])
        await self.refresher.check_generation()
