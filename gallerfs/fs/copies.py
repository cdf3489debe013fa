"""Copies dropped into albums (recognised, never stored) and edits of originals (re-indexed).

A mixin of ``gallerfs.fs.operations.Operations``.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Any

import pyfuse3
import trio

from gallerfs.db import albums as album_db
from gallerfs.db import tree as q
from gallerfs.fs.handles import OriginalHandle, UploadHandle, UploadNode
from gallerfs.fs.nodes import DirNode, LibraryFile, strip_suffix

log = logging.getLogger(__name__)


class AlbumCopies:
    inodes: Any
    pool: Any
    _uploads: Any
    in_copy_thread: Any
    uploads: dict[tuple[int, bytes], int]

    async def _member_upload(self, inode: int) -> UploadHandle:
        """A file in an album is being overwritten: whatever is written is a copy to add, not an edit."""
        parent = self.inodes.parent(inode)
        listing = await self.listing(parent)
        name = next((n for n, i in zip(listing.names, listing.inos) if i == inode), b"")
        upload = UploadNode(next(self._uploads))
        self.inodes.ino(upload, parent)
        handle = UploadHandle(upload, parent, name)
        await self.in_copy_thread(self._open_candidates, handle)
        return handle

    def _open_candidates(self, handle: UploadHandle) -> None:
        db = self.pool.get()
        names = {handle.name, strip_suffix(handle.name)}
        for name in names:
            for loc in q.files_named(db, name):
                if loc.online and loc.id not in handle.candidates:
                    try:
                        handle.candidates[loc.id] = os.open(loc.path, os.O_RDONLY)
                    except OSError:
                        continue

    async def finish_original(self, handle: OriginalHandle) -> None:
        st = await self.original_io(handle, handle.finish)  # ftruncate, fsync: on the source's threads
        if st is not None:
            await self.original_changed(handle, st)

    async def adopt_upload(self, handle: UploadHandle) -> None:
        """A copy into an album was closed: find which library file it is and add that file."""
        def identify() -> int | None:
            ids = handle.matching_ids()
            if ids:
                return ids[0]
            digest = handle.digest()
            found = q.files_with_hash(self.pool.get(), handle.node.size, digest) if digest else []
            return found[0] if found else None

        file_id = await self.in_copy_thread(identify)
        self.uploads.pop((handle.parent, handle.name), None)
        pyfuse3.invalidate_entry_async(handle.parent, handle.name, ignore_enoent=True)
        if file_id is None:
            log.warning("a copy named %r is not a library file: refused", handle.name)
            handle.result = -1
            raise OSError(errno.EROFS, "only files of the library can be added")
        parent = self.inodes.node(handle.parent)
        assert isinstance(parent, DirNode)
        await self.library_write(lambda c: parent.add_file(c, file_id), handle.parent)
        handle.result = file_id

    async def original_changed(self, handle: OriginalHandle, st: os.stat_result) -> None:
        await self.in_writer(album_db.mark_file_pending, self._writer_db(), handle.file_id, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        node = self.inodes.get(handle.ino)
        if isinstance(node, LibraryFile):
            row = node.row
            node.row = type(row)(row.id, row.source_id, row.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        await trio.to_thread.run_sync(self._invalidate_inodes, [handle.ino])
        await self.check_generation()
