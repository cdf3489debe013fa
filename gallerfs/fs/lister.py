"""The virtual tree's listings and attributes, cached until the library's generation changes.

Listings come from ``DirNode.list`` on reader threads (a reader connection
lent per call), are cached per directory (``ListingCache``) until the
library's generation changes (``refresh`` then re-lists them and tells the
kernel what changed), and carry every entry's attributes, so that readdirplus
and lookups are answered from memory with long kernel timeouts.
"""

from __future__ import annotations

import errno
import os
from typing import Callable

import pyfuse3

from gallerfs.fs.fuseutil import LIBRARY_TIMEOUT, VOLATILE_TIMEOUT, Listing, entry_attrs, stat_attrs
from gallerfs.fs.handles import UploadNode
from gallerfs.fs.inodes import InodeTable
from gallerfs.fs.journal import JournalNode, JournalRoot
from gallerfs.fs.listing_cache import ListingCache
from gallerfs.fs.nodes import FILE_MODE, Attr, DirNode, LibraryFile, Memo, Node, TextFile, TreeContext
from gallerfs.fs.provider import MountConfig
from gallerfs.fs.workers import Workers


class TreeLister:
    """Builds and caches listings; ``memo``, ``generation`` and ``listings`` follow the library (``refresh``)."""

    def __init__(self, config: MountConfig, inodes: InodeTable, workers: Workers) -> None:
        self.config = config
        self.inodes = inodes
        self.workers = workers
        self.memo = Memo(-1)
        self.generation = -1
        self.listings = ListingCache()

    def context(self) -> TreeContext:
        """What a node lists itself with; on a worker thread (its reader connection)."""
        c = self.config
        return TreeContext(self.workers.pool.get(), self.memo, c.paths, c.settings, c.xattrs, self.workers.writer.get)

    # -- attributes -----------------------------------------------------------
    def entry_attrs(self, ino: int, attr: Attr, timeout: float = LIBRARY_TIMEOUT) -> pyfuse3.EntryAttributes:
        e = entry_attrs(ino, attr, self.config.uid, self.config.gid, timeout)
        e.generation = self.inodes.generation(ino)
        return e

    def stat_attrs(self, ino: int, st: os.stat_result) -> pyfuse3.EntryAttributes:
        e = stat_attrs(ino, st)
        e.generation = self.inodes.generation(ino)
        return e

    def node_attrs(self, ino: int, node: Node) -> pyfuse3.EntryAttributes:
        """Attributes of *node*; blocking (an lstat) for ``journal/`` itself, which the root lists:
        call those on a worker thread."""
        if isinstance(node, (JournalNode, JournalRoot)):
            return self.stat_attrs(ino, os.lstat(node.path))
        timeout = 0.0 if isinstance(node, UploadNode) else VOLATILE_TIMEOUT if isinstance(node, TextFile) else LIBRARY_TIMEOUT
        return self.entry_attrs(ino, node.attr(), timeout)

    # -- listings -------------------------------------------------------------
    def build(self, ino: int, node: DirNode) -> Listing:
        """On a worker thread: list *node* and give every child an inode."""
        entries = node.list(self.context())
        inos = self.inodes.assign([e.node for e in entries], ino)
        uid, gid, attrs = self.config.uid, self.config.gid, []
        for child, (_, n) in zip(inos, entries):
            if type(n) is LibraryFile:  # the bulk of every listing: no detour through node_attrs
                r = n.row
                attrs.append(entry_attrs(child, Attr(FILE_MODE, r.size, r.mtime_ns, r.ctime_ns), uid, gid))
            else:
                attrs.append(self.node_attrs(child, n))
        names = [e.name for e in entries]
        return Listing(names, inos, attrs, {name: i for i, name in enumerate(names)}, [e.node for e in entries])

    async def listing(self, ino: int) -> Listing:
        cached = self.listings.get(ino)
        if cached is not None:
            return cached
        node = self.inodes.node(ino)
        if not isinstance(node, DirNode) or isinstance(node, JournalRoot):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        memo = self.memo
        listing = await self.workers.read(self.build, ino, node)
        if memo is self.memo and getattr(node, "cache_listing", True) and self.inodes.get(ino) is not None:
            self.listings.put(ino, listing)  # not already stale, and the folder is still known
        return listing

    def forget(self, *inos: int) -> None:
        for ino in inos:
            self.listings.pop(ino, None)

    async def write(self, fn: Callable[[TreeContext], None], *dirs: int) -> None:
        """Run a tree write on the writer thread, then drop the affected listings."""
        await self.workers.write(lambda: fn(self.context()))
        self.forget(*dirs)
