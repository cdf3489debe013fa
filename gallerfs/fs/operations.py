"""The pyfuse3 ``Operations`` class: maps inodes, handles and errors onto the tree.

Listings come from ``DirNode.list`` on worker threads (one reader connection
per thread), are cached per directory until the library's generation changes,
and are snapshotted per ``opendir`` handle with positions as offsets.
Attributes go out with every listing (readdirplus) with long kernel timeouts;
when the generation changes, cached directories are re-listed and the kernel
is told about every entry and inode that changed.

Every reply that hands the kernel an entry counts one reference in the inode
table, and ``forget`` gives them back (see ``gallerfs.fs.inodes``): nodes, and
the listings of folders, live only as long as the kernel needs them, so the
mount's memory stays bounded however much is browsed.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import threading
from typing import Any, Callable, Sequence, TypeVar

import pyfuse3
import trio

from gallerfs.config import Settings
from gallerfs.db import tree as q
from gallerfs.db.connection import Database
from gallerfs.fs import journal as jr
from gallerfs.fs import journal_photos
from gallerfs.fs.journal_hooks import JournalCreatedHandle
from gallerfs.fs.handles import FdHandle, Handle, OriginalHandle, TextHandle, UploadHandle, UploadNode
from gallerfs.fs.inodes import MEMBER_INODE_BASE, ROOT_INODE, InodeTable, computed
from gallerfs.fs.listing_cache import ListingCache
from gallerfs.fs.nodes import FILE_MODE, Attr, DirNode, LibraryFile, Memo, Node, TextFile, TreeContext, file_id_of_inode
from gallerfs.fs.copies import AlbumCopies
from gallerfs.fs.fuseutil import (
    LIBRARY_TIMEOUT, VOLATILE_TIMEOUT, WRITE_WAIT_MS, Listing, entry_attrs, fuse_errors, stat_attrs, unchanged,
)  # fmt: skip
from gallerfs.fs.readers import ReaderLoans
from gallerfs.fs.refresh import ChangeTracking
from gallerfs.fs.sourceio import Buffers, ReadAhead, SourceGates
from gallerfs.fs.toplevel import RootDir
from gallerfs.fs.xattrs import XattrHandlers, XattrSource
from gallerfs.paths import LibraryPaths
from gallerfs.renameat import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2

log = logging.getLogger(__name__)

T = TypeVar("T")


class Operations(ChangeTracking, AlbumCopies, XattrHandlers, pyfuse3.Operations):
    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(
        self,
        paths: LibraryPaths,
        settings: Settings,
        journal_dir: os.PathLike[str] | str,
        *,
        xattrs: bool = False,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.settings = settings
        self.xattrs = xattrs
        self.journal_path = os.fsencode(os.path.abspath(journal_dir))
        self.root = RootDir(self.journal_path)
        self.inodes = InodeTable(self.root)
        self.journal = jr.JournalNodes(self.journal_path)
        self.pool = ReaderLoans(paths.db)
        self.readers = trio.CapacityLimiter(4)
        self.write_limiter = trio.CapacityLimiter(1)
        self.gates = SourceGates()  # originals: a few threads per source (gallerfs.fs.sourceio)
        self.read_buffers = Buffers()
        self.copy_limiter = trio.CapacityLimiter(2)  # copies into albums compare against originals
        self.statfs_limiter = trio.CapacityLimiter(1)
        self.initialised = trio.Event()  # FUSE_INIT answered (gallerfs.fs.mount tunes the kernel after it)
        self._writer: Database | None = None
        self._writer_lock = threading.Lock()
        self.memo = Memo(-1)
        self.generation = -1
        self.listings = ListingCache()
        self.handles: dict[int, Handle] = {}
        self.dir_handles: dict[int, Listing] = {}
        self.dir_parent: dict[int, int] = {}  # dir handle -> the folder's inode
        self.uploads: dict[tuple[int, bytes], int] = {}
        self._fh = itertools.count(1)
        self._uploads = itertools.count(1)
        self.uid, self.gid = os.getuid(), os.getgid()
        self.xattr_source = XattrSource()
        for entry in self.root.list(None):  # type: ignore[arg-type]
            self.inodes.pin(entry.node, ROOT_INODE)

    # -- plumbing ----------------------------------------------------------
    def init(self) -> None:  # called by pyfuse3 while it answers FUSE_INIT
        self.initialised.set()

    def _writer_db(self) -> Database:
        with self._writer_lock:
            if self._writer is None:
                self._writer = Database(self.paths.db, busy_timeout_ms=WRITE_WAIT_MS)
            return self._writer

    def context(self) -> TreeContext:
        return TreeContext(self.pool.get(), self.memo, self.paths, self.settings, self.xattrs, self._writer_db)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.readers)

    async def in_copy_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Copies into albums, which compare against originals of any source: their own two threads."""
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.copy_limiter, abandon_on_cancel=True)

    async def in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await trio.to_thread.run_sync(self.pool.lend, fn, *args, limiter=self.write_limiter)

    def entry_attrs(self, ino: int, attr: Attr, timeout: float = LIBRARY_TIMEOUT) -> pyfuse3.EntryAttributes:
        e = entry_attrs(ino, attr, self.uid, self.gid, timeout)
        e.generation = self.inodes.generation(ino)
        return e

    def stat_attrs(self, ino: int, st: os.stat_result) -> pyfuse3.EntryAttributes:
        e = stat_attrs(ino, st)
        e.generation = self.inodes.generation(ino)
        return e

    def node_attrs(self, ino: int, node: Node) -> pyfuse3.EntryAttributes:
        """Attributes of *node*; blocking (an lstat) for journal nodes: call those on a worker thread."""
        if isinstance(node, (jr.JournalNode, jr.JournalRoot)):
            return self.stat_attrs(ino, os.lstat(node.path))
        timeout = 0.0 if isinstance(node, UploadNode) else VOLATILE_TIMEOUT if isinstance(node, TextFile) else LIBRARY_TIMEOUT
        return self.entry_attrs(ino, node.attr(), timeout)

    def _build_listing(self, ino: int, node: DirNode) -> Listing:
        """On a worker thread: list *node* and give every child an inode."""
        entries = node.list(self.context())
        inos = self.inodes.assign([e.node for e in entries], ino)
        uid, gid, attrs = self.uid, self.gid, []
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
        if not isinstance(node, DirNode) or isinstance(node, jr.JournalRoot):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        memo = self.memo
        listing = await self.in_thread(self._build_listing, ino, node)
        if memo is self.memo and getattr(node, "cache_listing", True) and self.inodes.get(ino) is not None:
            self.listings.put(ino, listing)  # not already stale, and the folder is still known
        return listing

    def is_journal(self, node: Node) -> bool:
        return isinstance(node, (jr.JournalNode, jr.JournalRoot))

    def forget_listing(self, *inos: int) -> None:
        for ino in inos:
            self.listings.pop(ino, None)

    async def library_write(self, fn: Callable[[TreeContext], None], *dirs: int) -> None:
        """Run a tree write on the writer thread, then drop the affected listings."""
        await self.in_writer(lambda: fn(self.context()))
        self.forget_listing(*dirs)

    # -- lookups and attributes ------------------------------------------------
    @fuse_errors
    async def lookup(self, parent_inode: int, name: bytes, ctx: Any = None) -> pyfuse3.EntryAttributes:
        attrs, node = await self._lookup(parent_inode, name)
        self.inodes.ref(attrs.st_ino, node, None if name in (b".", b"..") else parent_inode)  # the kernel's reference
        return attrs

    async def _lookup(self, parent_inode: int, name: bytes) -> tuple[pyfuse3.EntryAttributes, Node]:
        """*name* in *parent_inode* and its node, without counting a kernel reference."""
        if name in (b".", b".."):
            ino = parent_inode if name == b"." else self.inodes.parent(parent_inode)
            node = await self.known_node(ino)
            return await self._getattr(ino, node), node
        parent = self.inodes.node(parent_inode)
        if isinstance(parent, jr.JournalRoot) and name in journal_photos.VIRTUAL_NAMES:
            virtual = journal_photos.virtual_child(name)
            return self.node_attrs(self.inodes.ino(virtual, parent_inode), virtual), virtual  # type: ignore[arg-type]
        if self.is_journal(parent):
            def find() -> tuple[pyfuse3.EntryAttributes, Node]:
                node, st = self.journal.lookup(parent.path, name)  # type: ignore[attr-defined]
                return self.stat_attrs(self.inodes.ino(node, parent_inode), st), node

            return await self.in_thread(find)
        if not isinstance(parent, DirNode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        upload = self.uploads.get((parent_inode, name))
        if upload is not None:
            node = self.inodes.node(upload)
            return self.node_attrs(upload, node), node
        if parent.dynamic_lookup:
            def find_dynamic() -> tuple[pyfuse3.EntryAttributes, Node]:
                entry = parent.lookup(self.context(), name)
                if entry is None:
                    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
                child = self.inodes.ino(entry.node, parent_inode)
                return self.node_attrs(child, entry.node), entry.node

            return await self.in_thread(find_dynamic)
        listing = await self.listing(parent_inode)
        i = listing.index.get(name)
        if i is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        return listing.attrs[i], listing.nodes[i]

    async def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        """The kernel dropped references: nodes it no longer holds go, with their folders' listings."""
        try:
            for ino, nlookup in inode_list:
                if self.inodes.forget(ino, nlookup):
                    self.listings.pop(ino)
                elif ino in self.listings and self.inodes.count(ino) == 0:
                    self.listings.pop(ino)  # a folder nobody has open: re-listed when it is next needed
        except Exception:  # forget must never fail
            log.exception("forget failed")

    async def known_node(self, ino: int) -> Node:
        """The node of *ino*; a library file's node the table let go is rebuilt from its row."""
        node = self.inodes.get(ino)
        if node is not None:
            return node
        file_id, member_of = file_id_of_inode(ino), self.inodes.member_folder(ino)
        if not computed(ino) or file_id is None or (ino >= MEMBER_INODE_BASE and member_of is None):
            raise OSError(errno.ENOENT, "unknown inode")
        row = await self.in_thread(lambda: q.file_row(self.pool.get(), file_id))
        if row is None:
            raise OSError(errno.ENOENT, "no longer in the library")
        return LibraryFile(row, member_of)  # type: ignore[arg-type]

    @fuse_errors
    async def getattr(self, inode: int, ctx: Any = None) -> pyfuse3.EntryAttributes:
        return await self._getattr(inode, await self.known_node(inode))

    async def _getattr(self, inode: int, node: Node) -> pyfuse3.EntryAttributes:
        if self.is_journal(node):
            return await self.in_thread(self.node_attrs, inode, node)
        attrs = self.node_attrs(inode, node)
        for handle in self.handles.values():  # an original being written: its size as it is now
            if isinstance(handle, OriginalHandle) and handle.ino == inode and handle.writable:
                attrs.st_size = handle.live_size()
                attrs.attr_timeout = 0
        return attrs

    @fuse_errors
    async def setattr(self, inode: int, attr: Any, fields: Any, fh: int | None, ctx: Any) -> pyfuse3.EntryAttributes:
        node = self.inodes.node(inode)
        if self.is_journal(node):
            handle = self.handles.get(fh) if fh is not None else None
            target = handle.fd if isinstance(handle, FdHandle) else node.path  # type: ignore[attr-defined]
            await self.in_thread(jr.apply_setattr, target, attr, fields)
            return await self.getattr(inode)
        handle = self.handles.get(fh) if fh is not None else None
        if isinstance(handle, UploadHandle):  # cp -p setting times/modes on a copy: nothing to keep
            if fields.update_size:
                handle.node.size = attr.st_size
            return self.node_attrs(inode, handle.node)
        if isinstance(node, UploadNode):  # the same by file descriptor (futimens: no handle is passed)
            return self.node_attrs(inode, node)
        if fields.update_size and isinstance(handle, OriginalHandle):
            if attr.st_size == 0 and isinstance(node, LibraryFile) and node.member_of is not None:
                await self.close_original(handle)  # truncating an album member: a copy follows
                self.handles[fh] = upload = await self._member_upload(inode)  # type: ignore[index]
                return self.node_attrs(inode, upload.node)
            await self.original_io(handle, handle.request_truncate, attr.st_size)
            self._stale_read_ahead(handle)
            e = self.node_attrs(inode, node)
            e.st_size = attr.st_size
            return e
        current = self.node_attrs(inode, node)
        if not fields.update_size and unchanged(current, attr, fields):
            return current  # 'cp -p' into an album re-applies the original's own times and mode
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    @fuse_errors
    async def readlink(self, inode: int, ctx: Any) -> bytes:
        node = self.inodes.node(inode)
        if not isinstance(node, jr.JournalNode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return await self.in_thread(os.readlink, node.path)

    def _statvfs(self) -> os.statvfs_result:
        return os.statvfs(self.journal_path if os.path.isdir(self.journal_path) else self.paths.root)

    @fuse_errors
    async def statfs(self, ctx: Any) -> pyfuse3.StatvfsData:
        # its own thread: a 'df' stuck on a dead journal share must not take a listing's thread
        st = await trio.to_thread.run_sync(self._statvfs, limiter=self.statfs_limiter, abandon_on_cancel=True)
        out = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail"):
            setattr(out, name, getattr(st, name))
        out.f_namemax = 255
        return out

    # -- directories --------------------------------------------------------------
    @fuse_errors
    async def opendir(self, inode: int, ctx: Any) -> int:
        node = self.inodes.node(inode)
        if self.is_journal(node):
            def snapshot() -> Listing:
                names, inos, attrs, nodes = [], [], [], []
                virtual = journal_photos.VIRTUAL_NAMES if isinstance(node, jr.JournalRoot) else ()
                for name, child, st in self.journal.listdir(node.path):  # type: ignore[attr-defined]
                    if name in virtual:
                        continue
                    ino = self.inodes.ino(child, inode)
                    names.append(name)
                    inos.append(ino)
                    attrs.append(self.stat_attrs(ino, st))
                    nodes.append(child)
                for name in virtual:
                    vnode = journal_photos.virtual_child(name)
                    ino = self.inodes.ino(vnode, inode)  # type: ignore[arg-type]
                    names.append(name)
                    inos.append(ino)
                    attrs.append(self.node_attrs(ino, vnode))  # type: ignore[arg-type]
                    nodes.append(vnode)
                return Listing(names, inos, attrs, {}, nodes)

            listing = await self.in_thread(snapshot)
        else:
            listing = await self.listing(inode)
            if isinstance(node, DirNode) and type(node).opened is not DirNode.opened:
                await self.in_thread(lambda: node.opened(self.context()))  # e.g. search/ remembers the query
        fh = next(self._fh)
        self.dir_handles[fh] = listing
        self.dir_parent[fh] = inode
        return fh

    async def readdir(self, fh: int, start_id: int, token: Any) -> None:
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
    async def mkdir(self, parent_inode: int, name: bytes, mode: int, ctx: Any) -> pyfuse3.EntryAttributes:
        parent = self.inodes.node(parent_inode)
        if self.is_journal(parent):
            jr.check_name(name)
            await self.in_thread(os.mkdir, parent.path + b"/" + name, mode)  # type: ignore[attr-defined]
            return await self.lookup(parent_inode, name)
        if not isinstance(parent, DirNode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        await self.library_write(lambda c: parent.mkdir(c, name), parent_inode)
        return await self.lookup(parent_inode, name)

    async def _child(self, parent_inode: int, name: bytes) -> tuple[int, Node]:
        attrs, node = await self._lookup(parent_inode, name)  # no reply to the kernel: not counted
        return attrs.st_ino, node

    @fuse_errors
    async def rmdir(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self.inodes.node(parent_inode)
        if self.is_journal(parent):
            path = parent.path + b"/" + name  # type: ignore[attr-defined]
            await self.in_thread(os.rmdir, path)
            self.journal.forget_path(path)
            return
        if not isinstance(parent, DirNode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        ino, child = await self._child(parent_inode, name)
        await self.library_write(lambda c: parent.rmdir(c, name, child), parent_inode, ino)

    @fuse_errors
    async def unlink(self, parent_inode: int, name: bytes, ctx: Any) -> None:
        parent = self.inodes.node(parent_inode)
        if self.is_journal(parent):
            path = parent.path + b"/" + name  # type: ignore[attr-defined]
            await self.in_thread(os.unlink, path)
            self.journal.forget_path(path)
            return
        if not isinstance(parent, DirNode):
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        if self.uploads.pop((parent_inode, name), None) is not None:
            return
        _, child = await self._child(parent_inode, name)
        if isinstance(child, LibraryFile):
            await self.library_write(lambda c: parent.remove_file(c, child.row.id, name), parent_inode)
            return
        raise OSError(errno.EISDIR if child.is_dir else errno.EROFS, "refused")

    @fuse_errors
    async def rename(self, p_old: int, name_old: bytes, p_new: int, name_new: bytes, flags: int, ctx: Any) -> None:
        old_parent, new_parent = self.inodes.node(p_old), self.inodes.node(p_new)
        if self.is_journal(old_parent) and self.is_journal(new_parent):
            jr.check_name(name_new)
            src = old_parent.path + b"/" + name_old  # type: ignore[attr-defined]
            dst = new_parent.path + b"/" + name_new  # type: ignore[attr-defined]

            def move() -> None:
                if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
                    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
                if not flags & RENAME_EXCHANGE and os.path.lexists(dst):
                    self.journal.forget_path(dst)
                renameat2(src, dst, flags)
                if flags & RENAME_EXCHANGE:
                    tmp = dst + b"\x00swap"
                    self.journal.moved(src, tmp)
                    self.journal.moved(dst, src)
                    self.journal.moved(tmp, dst)
                else:
                    self.journal.moved(src, dst)

            await self.in_thread(move)
            return
        if self.is_journal(old_parent) or self.is_journal(new_parent) or p_old != p_new:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        if flags or not isinstance(old_parent, DirNode):
            raise OSError(errno.EINVAL if flags else errno.ENOTDIR, "rename refused")
        ino, child = await self._child(p_old, name_old)
        await self.library_write(lambda c: old_parent.rename_child(c, name_old, name_new, child), p_old)
        pyfuse3.invalidate_entry_async(p_old, name_old, ignore_enoent=True)

    @fuse_errors
    async def link(self, inode: int, new_parent_inode: int, new_name: bytes, ctx: Any) -> pyfuse3.EntryAttributes:
        node, parent = self.inodes.node(inode), self.inodes.node(new_parent_inode)
        if isinstance(node, jr.JournalNode) and self.is_journal(parent):
            jr.check_name(new_name)
            await self.in_thread(os.link, node.path, parent.path + b"/" + new_name, follow_symlinks=False)  # type: ignore[attr-defined]
            return await self.lookup(new_parent_inode, new_name)
        if not isinstance(node, LibraryFile) or not isinstance(parent, DirNode):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        await self.library_write(lambda c: parent.add_file(c, node.row.id), new_parent_inode)
        listing = await self.listing(new_parent_inode)
        if listing.index.get(new_name) is None or listing.inos[listing.index[new_name]] != inode:
            pyfuse3.invalidate_entry_async(new_parent_inode, new_name, ignore_enoent=True)
        self.inodes.ref(inode, node)  # link's reply is one more kernel reference
        return self.node_attrs(inode, node)

    # -- files ----------------------------------------------------------------------
    def _new_handle(self, handle: Handle) -> int:
        fh = next(self._fh)
        self.handles[fh] = handle
        return fh

    @fuse_errors
    async def open(self, inode: int, flags: int, ctx: Any) -> pyfuse3.FileInfo:
        node = self.inodes.node(inode)
        if isinstance(node, jr.JournalNode):
            fd = await self.in_thread(os.open, node.path, flags & ~os.O_CREAT)
            return pyfuse3.FileInfo(fh=self._new_handle(FdHandle(fd)))
        if isinstance(node, TextFile):
            if flags & os.O_ACCMODE != os.O_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            data = await self.in_thread(lambda: node.produce(self.context()))
            return pyfuse3.FileInfo(fh=self._new_handle(TextHandle(data)), direct_io=True)
        if isinstance(node, LibraryFile):
            if node.member_of is not None and flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
                upload = await self._member_upload(inode)
                return pyfuse3.FileInfo(fh=self._new_handle(upload), direct_io=True)
            handle = await self._open_original(node, inode, flags)
            st = handle.opened_stat
            fresh = (st.st_size, st.st_mtime_ns) == (node.row.size, node.row.mtime_ns)
            if not fresh:  # changed on disk since it was indexed: show it as it is now
                node.row = node.row._replace(size=st.st_size, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
                trio.lowlevel.spawn_system_task(trio.to_thread.run_sync, self._invalidate_inodes, [inode])
            return pyfuse3.FileInfo(fh=self._new_handle(handle), keep_cache=fresh and not handle.writable)
        raise OSError(errno.EISDIR if node.is_dir else errno.EROFS, "cannot open")

    async def _open_original(self, node: LibraryFile, inode: int, flags: int) -> OriginalHandle:
        loc = await self.in_thread(lambda: q.file_location(self.pool.get(), node.row.id))
        if loc is None:
            raise OSError(errno.ENOENT, "no longer in the library")
        if not loc.online:
            raise OSError(errno.ENOMEDIUM, os.strerror(errno.ENOMEDIUM))
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        gate = self.gates.get(node.row.source_id, os.fsdecode(loc.source_path))
        handle = await gate.run(OriginalHandle.open, loc.path, node.row.id, node.row.source_id, inode, writable,
                                bool(flags & os.O_TRUNC))  # fmt: skip
        if not writable:
            handle.ahead = ReadAhead(gate, handle.fd, handle.size, self.read_buffers)
        return handle

    async def original_io(self, handle: OriginalHandle, fn: Callable[..., T], *args: Any) -> T:
        """A blocking call on an open original, on its source's threads."""
        return await self.gates.get(handle.source_id).run(fn, *args)

    def _stale_read_ahead(self, writer: OriginalHandle) -> None:
        """An original was written through *writer*: other handles' read-ahead of it is stale."""
        for other in self.handles.values():
            if isinstance(other, OriginalHandle) and other.ahead is not None and other.file_id == writer.file_id:
                other.ahead.forget()

    async def close_original(self, handle: OriginalHandle) -> None:
        if handle.ahead is not None:
            await handle.ahead.close()  # no read in flight may outlive the descriptor
        # queued even behind a stuck source: the descriptor is closed once the source answers
        await self.gates.get(handle.source_id).run(handle.close, even_if_stalled=True)

    async def _close_later(self, handle: Handle) -> None:
        """A system task: close a released handle off the request path (its disk may not answer)."""
        try:
            if isinstance(handle, OriginalHandle):
                await self.close_original(handle)
            else:
                await self.in_copy_thread(handle.close)
        except OSError as exc:
            log.warning("closing a released file: %s", exc)
        except Exception:  # a system task must not raise
            log.exception("closing a released file")

    @fuse_errors
    async def create(self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: Any) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        parent = self.inodes.node(parent_inode)
        if self.is_journal(parent):
            jr.check_name(name)
            path = parent.path + b"/" + name  # type: ignore[attr-defined]

            def make() -> tuple[int, pyfuse3.EntryAttributes]:
                fd = os.open(path, flags | os.O_CREAT, mode)
                node = self.journal.node_for(path, os.fstat(fd))
                return fd, self.stat_attrs(self.inodes.held_ino(node, parent_inode), os.fstat(fd))

            fd, attrs = await self.in_thread(make)
            handle = JournalCreatedHandle(fd, parent_inode, name, path)
            return pyfuse3.FileInfo(fh=self._new_handle(handle)), attrs
        if not isinstance(parent, DirNode) or not parent.accepts_files:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        upload = UploadNode(next(self._uploads))
        ino = self.inodes.held_ino(upload, parent_inode)  # create's reply is a kernel reference
        handle = UploadHandle(upload, parent_inode, name)
        await self.in_copy_thread(self._open_candidates, handle)
        self.uploads[(parent_inode, name)] = ino
        return pyfuse3.FileInfo(fh=self._new_handle(handle), direct_io=True), self.node_attrs(ino, upload)

    async def read(self, fh: int, off: int, size: int) -> bytes | memoryview:
        # The hot path of every read, so no fuse_errors wrapper. Originals are read on their
        # source's threads, sequential reads ahead of the reader (gallerfs.fs.sourceio).
        try:
            handle = self.handles[fh]
            if isinstance(handle, OriginalHandle):
                if handle.ahead is not None:
                    return await handle.ahead.read(off, size)
                return await self.original_io(handle, handle.read, off, size)
            if handle.fd < 0:  # generated text: in memory
                return handle.read(off, size)
            return await self.in_thread(handle.read, off, size)
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except KeyError:
            raise pyfuse3.FUSEError(errno.EBADF) from None

    @fuse_errors
    async def write(self, fh: int, off: int, buf: bytes) -> int:
        handle = self.handles[fh]
        if isinstance(handle, OriginalHandle):
            written = await self.original_io(handle, handle.write, off, buf)
            self._stale_read_ahead(handle)
            return written
        if isinstance(handle, UploadHandle):  # compared with originals: the copies' threads
            return await self.in_copy_thread(handle.write, off, buf)
        return await self.in_thread(handle.write, off, buf)

    @fuse_errors
    async def flush(self, fh: int) -> None:
        handle = self.handles.get(fh)
        if isinstance(handle, UploadHandle) and handle.result is None:
            await self.adopt_upload(handle)
        elif isinstance(handle, OriginalHandle) and handle.writable:
            await self.finish_original(handle)

    @fuse_errors
    async def fsync(self, fh: int, datasync: bool) -> None:
        handle = self.handles.get(fh)
        sync = os.fdatasync if datasync else os.fsync
        if isinstance(handle, OriginalHandle):
            await self.original_io(handle, sync, handle.fd)
        elif handle is not None and handle.fd >= 0 and not isinstance(handle, UploadHandle):
            await self.in_thread(sync, handle.fd)

    @fuse_errors
    async def release(self, fh: int) -> None:
        handle = self.handles.pop(fh, None)
        if handle is None:
            return
        try:
            if isinstance(handle, OriginalHandle) and handle.writable:
                await self.finish_original(handle)
            elif isinstance(handle, UploadHandle):
                self.uploads.pop((handle.parent, handle.name), None)
        finally:
            if isinstance(handle, (OriginalHandle, UploadHandle)):  # their disks may not answer: not inline
                trio.lowlevel.spawn_system_task(self._close_later, handle)
            else:
                handle.close()  # journal files and text: local, and a release must not outlive the unmount
        if isinstance(handle, JournalCreatedHandle) and handle.may_be_entry():  # an empty new entry: template
            trio.lowlevel.spawn_system_task(handle.fill_later, self.paths, self.settings, self.pool.get)

    def close(self) -> None:
        self.root.close()
        for handle in list(self.handles.values()):
            try:
                handle.close()
            except OSError:
                pass
        self.handles.clear()
        self.pool.close()
        if self._writer is not None:
            self._writer.close()
