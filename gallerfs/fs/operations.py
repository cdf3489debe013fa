"""The pyfuse3 ``Operations`` class: a thin dispatcher over the mount's two providers.

Every handler finds the node of the inode it is given, picks its provider
(``provider_of``: the journal passthrough for ``journal/`` and below, the
virtual tree for everything else) and delegates; it keeps only what is the
kernel's: the reference counts of the inodes it was given, the handle numbers,
and the snapshots of open directories (positions in them are the readdir
offsets). Errors become FUSE errors in one place (``fuseutil.fuse_errors``).

Every reply that hands the kernel an entry counts one reference in the inode
table, and ``forget`` gives them back (see ``gallerfs.fs.inodes``): nodes, and
the listings of folders, live only as long as the kernel needs them, so the
mount's memory stays bounded however much is browsed.

Collaborators are built by ``gallerfs.fs.mount.build_parts`` (the composition
root) and passed in as ``MountParts``; tests build them the same way, or
their own, and call the handlers directly under trio.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

import pyfuse3
import trio

from gallerfs.config import Settings
from gallerfs.fs.fuseutil import Listing, fuse_errors
from gallerfs.fs.handles import HandleTable
from gallerfs.fs.inodes import ROOT_INODE, InodeTable
from gallerfs.fs.journal import JournalNode, JournalRoot
from gallerfs.fs.lister import TreeLister
from gallerfs.fs.listing_cache import ListingCache
from gallerfs.fs.nodes import Node, TreeContext
from gallerfs.fs.passthrough import JournalPassthrough
from gallerfs.fs.provider import MountConfig, Opened, Provider
from gallerfs.fs.refresh import Refresher
from gallerfs.fs.toplevel import RootDir
from gallerfs.fs.virtual import VirtualTree
from gallerfs.fs.workers import Workers
from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class MountParts:
    """Everything the dispatcher works with, built once per mount (``mount.build_parts``)."""

    config: MountConfig
    root: RootDir
    inodes: InodeTable
    workers: Workers
    handles: HandleTable
    lister: TreeLister
    refresher: Refresher
    tree: VirtualTree
    journal: JournalPassthrough


class FuseOperations(pyfuse3.Operations):
    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, parts: MountParts) -> None:
        super().__init__()
        self.parts = parts
        self.config = parts.config
        self.root = parts.root
        self.inodes = parts.inodes
        self.workers = parts.workers
        self.handles = parts.handles
        self.read_ahead = parts.handles.read_ahead  # file handle -> its read-ahead (``read``'s fast path)
        self.lister = parts.lister
        self.refresher = parts.refresher
        self.tree = parts.tree
        self.journal = parts.journal
        self.initialised = trio.Event()  # FUSE_INIT answered (gallerfs.fs.mount tunes the kernel after it)
        self.owners: dict[int, Provider] = {}  # file handle -> the provider that opened it
        self.dir_handles: dict[int, Listing] = {}
        self.dir_parent: dict[int, int] = {}  # dir handle -> the folder's inode

    # -- the one place a provider is chosen ---------------------------------------
    def provider_of(self, node: Node) -> Provider:
        if isinstance(node, (JournalNode, JournalRoot)):
            return self.journal
        return self.tree

    # -- plumbing, and what the mount loop and tests use ---------------------------
    def init(self) -> None:  # called by pyfuse3 while it answers FUSE_INIT
        self.initialised.set()

    @property
    def settings(self) -> Settings:
        return self.config.settings

    @property
    def paths(self) -> LibraryPaths:
        return self.config.paths

    @property
    def listings(self) -> ListingCache:
        return self.lister.listings

    def context(self) -> TreeContext:
        return self.lister.context()

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on a reader thread (``workers.read``)."""
        return await self.workers.read(fn, *args)

    async def check_generation(self) -> None:
        await self.refresher.check_generation()

    async def watch_generation(self) -> None:
        await self.refresher.watch_generation()

    async def known_node(self, ino: int) -> Node:
        """The node of *ino*; a library file's node the table let go is rebuilt from its row."""
        node = self.inodes.get(ino)
        if node is not None:
            return node
        return await self.tree.rebuild(ino)

    # -- lookups and attributes ------------------------------------------------
    @fuse_errors
    async def lookup(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:
        attrs, node = await self._lookup(parent_inode, name)
        self.inodes.ref(attrs.st_ino, node, None if name in (b".", b"..") else parent_inode)  # the kernel's reference
        return attrs

    async def _lookup(self, parent_inode: int, name: bytes) -> tuple[pyfuse3.EntryAttributes, Node]:
        """*name* in *parent_inode* and its node, without counting a kernel reference."""
        if name in (b".", b".."):
            ino = parent_inode if name == b"." else self.inodes.parent(parent_inode)
            node = await self.known_node(ino)
            return await self.provider_of(node).getattr(ino, node), node
        parent = self.inodes.node(parent_inode)
        return await self.provider_of(parent).lookup(parent_inode, parent, name)

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        """The kernel dropped references: nodes it no longer holds go, with their folders' listings."""
        try:
            listings = self.lister.listings
            for ino, nlookup in inode_list:
                if self.inodes.forget(ino, nlookup):
                    listings.pop(ino)
                elif ino in listings and self.inodes.count(ino) == 0:
                    listings.pop(ino)  # a folder nobody has open: re-listed when it is next needed
        except Exception:  # forget must never fail
            log.exception("forget failed")

    @fuse_errors
    async def getattr(self, inode: int, ctx: pyfuse3.RequestContext | None = None) -> pyfuse3.EntryAttributes:
        node = await self.known_node(inode)
        return await self.provider_of(node).getattr(inode, node)

    @fuse_errors
    async def setattr(self, inode: int, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields, fh: int | None,
                      ctx: pyfuse3.RequestContext | None) -> pyfuse3.EntryAttributes:  # fmt: skip
        node = self.inodes.node(inode)
        return await self.provider_of(node).setattr(inode, node, attr, fields, fh)

    @fuse_errors
    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext | None) -> bytes:
        node = self.inodes.node(inode)
        return await self.provider_of(node).readlink(inode, node)

    def _statvfs(self) -> os.statvfs_result:
        journal = self.journal.path
        return os.statvfs(journal if os.path.isdir(journal) else self.config.paths.root)

    @fuse_errors
    async def statfs(self, ctx: pyfuse3.RequestContext | None) -> pyfuse3.StatvfsData:
        st = await self.workers.statfs(self._statvfs)
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail"):
            setattr(out, name, getattr(st, name))
        out.f_namemax = 255
        return out

    # -- directories --------------------------------------------------------------
    @fuse_errors
    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext | None) -> int:
        node = self.inodes.node(inode)
        listing = await self.provider_of(node).opendir(inode, node)
        fh = self.handles.number()
        self.dir_handles[fh] = listing
        self.dir_parent[fh] = inode
        return fh

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        listing = self.dir_handles.get(fh)
        if listing is None:
            raise pyfuse3.FUSEError(errno.EBADF)
        end = start_id
        for end in range(start_id, len(listing.names) + 1):
            if end == len(listing.names) or not pyfuse3.readdir_reply(token, listing.names[end], listing.attrs[end], end + 1):
                break
        # readdirplus: each entry given is one more kernel reference; the folder is their parent
        self.inodes.ref_many(listing.inos[start_id:end], listing.nodes[start_id:end], self.dir_parent.get(fh, ROOT_INODE))

    async def releasedir(self, fh: int) -> None:
        self.dir_handles.pop(fh, None)
        self.dir_parent.pop(fh, None)

    @fuse_errors
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext | None) -> pyfuse3.EntryAttributes:
        parent = self.inodes.node(parent_inode)
        await self.provider_of(parent).mkdir(parent_inode, parent, name, mode)
        return await self.lookup(parent_inode, name)

    @fuse_errors
    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext | None) -> None:
        parent = self.inodes.node(parent_inode)
        await self.provider_of(parent).rmdir(parent_inode, parent, name)

    @fuse_errors
    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext | None) -> None:
        parent = self.inodes.node(parent_inode)
        await self.provider_of(parent).unlink(parent_inode, parent, name)

    @fuse_errors
    async def rename(self, parent_inode_old: int, name_old: bytes, parent_inode_new: int, name_new: bytes, flags: int,
                     ctx: pyfuse3.RequestContext | None) -> None:  # fmt: skip
        old_parent, new_parent = self.inodes.node(parent_inode_old), self.inodes.node(parent_inode_new)
        provider = self.provider_of(old_parent)
        if self.provider_of(new_parent) is not provider:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        await provider.rename(parent_inode_old, old_parent, name_old, parent_inode_new, new_parent, name_new, flags)

    @fuse_errors
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext | None) -> pyfuse3.EntryAttributes:
        node, parent = self.inodes.node(inode), self.inodes.node(new_parent_inode)
        attrs, found, under = await self.provider_of(parent).link(inode, node, new_parent_inode, parent, new_name)
        self.inodes.ref(attrs.st_ino, found, under)  # link's reply is one more kernel reference
        return attrs

    # -- files ----------------------------------------------------------------------
    def _opened(self, provider: Provider, opened: Opened) -> pyfuse3.FileInfo:
        fh = self.handles.add(opened.handle)
        self.owners[fh] = provider
        return pyfuse3.FileInfo(fh=fh, direct_io=opened.direct_io, keep_cache=opened.keep_cache)

    @fuse_errors
    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext | None) -> pyfuse3.FileInfo:
        node = self.inodes.node(inode)
        provider = self.provider_of(node)
        return self._opened(provider, await provider.open(inode, node, flags))

    @fuse_errors
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int,
                     ctx: pyfuse3.RequestContext | None) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:  # fmt: skip
        parent = self.inodes.node(parent_inode)
        provider = self.provider_of(parent)
        opened, attrs = await provider.create(parent_inode, parent, name, mode, flags)  # counted by the provider
        return self._opened(provider, opened), attrs

    async def read(self, fh: int, off: int, size: int) -> bytes | memoryview:  # type: ignore[override]  # stub: bytes; pyfuse3 takes any buffer (read-ahead: views, no copy)
        # The hot path of every read, so no fuse_errors wrapper. Most reads of an original read in order
        # are answered from its read-ahead at once: no provider, no coroutine, no copy (``ReadAhead.hit``);
        # reads of bytes already in the page cache are copied from it, without waiting (``ReadAhead.cached``).
        ahead = self.read_ahead.get(fh)
        if ahead is not None:
            view = ahead.hit(off, size)
            if view is None:
                view = ahead.cached(off, size)
            if view is not None:
                return view
        try:
            return await self.owners[fh].read(self.handles[fh], off, size)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except KeyError:
            raise pyfuse3.FUSEError(errno.EBADF) from None

    @fuse_errors
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        handle = self.handles[fh]
        return await self.owners[fh].write(handle, off, buf)

    @fuse_errors
    async def flush(self, fh: int) -> None:
        handle = self.handles.get(fh)
        if handle is not None:
            await self.owners[fh].flush(handle)

    @fuse_errors
    async def fsync(self, fh: int, datasync: bool) -> None:
        handle = self.handles.get(fh)
        if handle is not None:
            await self.owners[fh].fsync(handle, datasync)

    @fuse_errors
    async def release(self, fh: int) -> None:
        handle = self.handles.pop(fh)
        provider = self.owners.pop(fh, None)
        if handle is not None and provider is not None:
            await provider.release(handle)

    # -- extended attributes (served with --xattrs only; ENOSYS makes the kernel stop asking) -----
    @fuse_errors
    async def getxattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext | None) -> bytes:
        if not self.config.xattrs:
            raise pyfuse3.FUSEError(errno.ENOSYS)
        node = self.inodes.node(inode)
        return await self.provider_of(node).getxattr(inode, node, name)

    @fuse_errors
    async def listxattr(self, inode: int, ctx: pyfuse3.RequestContext | None) -> list[bytes]:
        if not self.config.xattrs:
            raise pyfuse3.FUSEError(errno.ENOSYS)
        node = self.inodes.node(inode)
        return await self.provider_of(node).listxattr(inode, node)

    @fuse_errors
    async def setxattr(self, inode: int, name: bytes, value: bytes, ctx: pyfuse3.RequestContext | None) -> None:
        node = self.inodes.node(inode)
        if not self.config.xattrs:
            raise pyfuse3.FUSEError(errno.ENOSYS)
        await self.provider_of(node).setxattr(inode, node, name, value)

    @fuse_errors
    async def removexattr(self, inode: int, name: bytes, ctx: pyfuse3.RequestContext | None) -> None:
        node = self.inodes.node(inode)
        if not self.config.xattrs:
            raise pyfuse3.FUSEError(errno.ENOSYS)
        await self.provider_of(node).removexattr(inode, node, name)

    def close(self) -> None:
        """At unmount: folders that keep something pending finish it; every handle and connection closes."""
        self.root.close()
        self.handles.close_all()
        self.owners.clear()
        self.workers.close()


class Operations(FuseOperations):
    """``FuseOperations`` with the mount's standard collaborators (``mount.build_parts``)."""

    def __init__(self, paths: LibraryPaths, settings: Settings, journal_dir: os.PathLike[str] | str, *,
                 xattrs: bool = False) -> None:  # fmt: skip
        from gallerfs.fs.mount import build_parts

        super().__init__(build_parts(paths, settings, journal_dir, xattrs=xattrs))
