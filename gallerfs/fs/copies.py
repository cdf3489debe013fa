"""Copies dropped into albums: recognised as library files, never stored.

``cp photo.jpg by-album/Trip/`` creates an upload (``handles.UploadNode``)
whose bytes are compared, as they arrive, with the originals of the same name;
when it is closed the file it matched (or, renamed on the way, the file with
its SHA-256) is added to the album. Overwriting a file inside an album (``cp``
onto an existing name, ``O_TRUNC``) is an upload too, never an edit of the
original.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os

import pyfuse3

from gallerfs.db import tree as q
from gallerfs.fs.handles import UploadHandle, UploadNode
from gallerfs.fs.inodes import InodeTable
from gallerfs.fs.lister import TreeLister
from gallerfs.fs.nodes import DirNode, strip_suffix
from gallerfs.fs.workers import Workers

log = logging.getLogger(__name__)


class AlbumCopies:
    def __init__(self, lister: TreeLister, inodes: InodeTable, workers: Workers) -> None:
        self.lister = lister
        self.inodes = inodes
        self.workers = workers
        self.uploads: dict[tuple[int, bytes], int] = {}  # (folder inode, name) -> the upload's inode
        self._serial = itertools.count(1)

    def new_node(self) -> UploadNode:
        return UploadNode(next(self._serial))

    async def start(self, parent: int, name: bytes) -> tuple[UploadHandle, int]:
        """``create`` in a folder that accepts files: the upload's handle and its (counted) inode."""
        upload = self.new_node()
        ino = self.inodes.held_ino(upload, parent)  # create's reply is a kernel reference
        handle = UploadHandle(upload, parent, name)
        await self.workers.copy(self.open_candidates, handle)
        self.uploads[(parent, name)] = ino
        return handle, ino

    async def member_upload(self, inode: int) -> UploadHandle:
        """A file in an album is being overwritten: whatever is written is a copy to add, not an edit."""
        parent = self.inodes.parent(inode)
        listing = await self.lister.listing(parent)
        name = next((n for n, i in zip(listing.names, listing.inos) if i == inode), b"")
        upload = self.new_node()
        self.inodes.ino(upload, parent)
        handle = UploadHandle(upload, parent, name)
        await self.workers.copy(self.open_candidates, handle)
        return handle

    def open_candidates(self, handle: UploadHandle) -> None:
        """On a copy thread: open the originals the upload may be a copy of (same name, online)."""
        db = self.workers.pool.get()
        names = {handle.name, strip_suffix(handle.name)}
        for name in names:
            for loc in q.files_named(db, name):
                if loc.online and loc.id not in handle.candidates:
                    try:
                        handle.candidates[loc.id] = os.open(loc.path, os.O_RDONLY)
                    except OSError:
                        continue

    async def adopt(self, handle: UploadHandle) -> None:
        """A copy into an album was closed: find which library file it is and add that file."""
        def identify() -> int | None:
            ids = handle.matching_ids()
            if ids:
                return ids[0]
            digest = handle.digest()
            found = q.files_with_hash(self.workers.pool.get(), handle.node.size, digest) if digest else []
            return found[0] if found else None

        file_id = await self.workers.copy(identify)
        self.uploads.pop((handle.parent, handle.name), None)
        pyfuse3.invalidate_entry_async(handle.parent, handle.name, ignore_enoent=True)
        if file_id is None:
            log.warning("a copy named %r is not a library file: refused", handle.name)
            handle.result = -1
            raise OSError(errno.EROFS, "only files of the library can be added")
        parent = self.inodes.node(handle.parent)
        if not isinstance(parent, DirNode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        await self.lister.write(lambda c: parent.add_file(c, file_id), handle.parent)
        handle.result = file_id
