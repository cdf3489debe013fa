"""The virtual tree as a provider: every inode outside ``journal/`` (see ``provider``).

Names and attributes come from the tree's listings (``lister``); writes are the
nodes' own (``DirNode.mkdir``, ``add_file``… on the writer thread); files are
originals (``originals``), generated text (``TextFile``) or copies dropped
into albums (``copies``).
"""

from __future__ import annotations

import errno
import logging
import os

import pyfuse3
import trio

from gallerfs.db import tree as q
from gallerfs.fs.copies import AlbumCopies
from gallerfs.fs.fuseutil import Listing, unchanged
from gallerfs.fs.handles import Handle, HandleTable, OriginalHandle, TextHandle, UploadHandle, UploadNode
from gallerfs.fs.inodes import InodeTable, computed
from gallerfs.fs.lister import TreeLister
from gallerfs.fs.nodes import MEMBER_INODE_BASE, DirNode, LibraryFile, Node, TextFile, erofs, file_id_of_inode
from gallerfs.fs.originals import Originals
from gallerfs.fs.provider import Opened
from gallerfs.fs.refresh import invalidate_inodes
from gallerfs.fs.workers import Workers
from gallerfs.fs.xattrs import PREFIX_BYTES, XattrSource

log = logging.getLogger(__name__)


def _dir(node: Node) -> DirNode:
    if not isinstance(node, DirNode):
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
    return node


class VirtualTree:
    """The provider of every inode the library's index describes."""

    def __init__(self, lister: TreeLister, inodes: InodeTable, workers: Workers, handles: HandleTable,
                 originals: Originals, copies: AlbumCopies, xattr_source: XattrSource) -> None:  # fmt: skip
        self.lister = lister
        self.inodes = inodes
        self.workers = workers
        self.handles = handles
        self.originals = originals
        self.copies = copies
        self.xattr_source = xattr_source

    async def rebuild(self, ino: int) -> LibraryFile:
        """The node of a library file's computed inode the table let go, rebuilt from its row."""
        file_id, member_of = file_id_of_inode(ino), self.inodes.member_folder(ino)
        if not computed(ino) or file_id is None or (ino >= MEMBER_INODE_BASE and member_of is None):
            raise OSError(errno.ENOENT, "unknown inode")
        row = await self.workers.read(lambda: q.file_row(self.workers.pool.get(), file_id))
        if row is None:
            raise OSError(errno.ENOENT, "no longer in the library")
        return LibraryFile(row, member_of)

    # -- names and attributes ----------------------------------------------------
    async def lookup(self, parent: int, parent_node: Node, name: bytes) -> tuple[pyfuse3.EntryAttributes, Node]:
        folder = _dir(parent_node)
        upload = self.copies.uploads.get((parent, name))
        if upload is not None:
            node = self.inodes.node(upload)
            return self.lister.node_attrs(upload, node), node
        if folder.dynamic_lookup:
            def find_dynamic() -> tuple[pyfuse3.EntryAttributes, Node]:
                entry = folder.lookup(self.lister.context(), name)
                if entry is None:
                    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
                child = self.inodes.ino(entry.node, parent)
                return self.lister.node_attrs(child, entry.node), entry.node

            return await self.workers.read(find_dynamic)
        listing = await self.lister.listing(parent)
        i = listing.index.get(name)
        if i is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        found: Node = listing.nodes[i]
        return listing.attrs[i], found

    async def getattr(self, inode: int, node: Node) -> pyfuse3.EntryAttributes:
        attrs = self.lister.node_attrs(inode, node)
        live = self.originals.live_size(inode)
        if live is not None:  # an original being written: its size as it is now
            attrs.st_size = live
            attrs.attr_timeout = 0
        return attrs

    async def setattr(self, inode: int, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
                      fh: int | None) -> pyfuse3.EntryAttributes:  # fmt: skip
        handle = self.handles.get(fh)
        if isinstance(handle, UploadHandle):  # cp -p setting times/modes on a copy: nothing to keep
            if fields.update_size:
                handle.node.size = attr.st_size
            return self.lister.node_attrs(inode, handle.node)
        if isinstance(node, UploadNode):  # the same by file descriptor (futimens: no handle is passed)
            return self.lister.node_attrs(inode, node)
        if fields.update_size and isinstance(handle, OriginalHandle) and fh is not None:
            if attr.st_size == 0 and isinstance(node, LibraryFile) and node.member_of is not None:
                await self.originals.close(handle)  # truncating an album member: a copy follows
                upload = await self.copies.member_upload(inode)
                self.handles.replace(fh, upload)
                return self.lister.node_attrs(inode, upload.node)
            await self.originals.io(handle, handle.request_truncate, attr.st_size)
            self.originals.stale_read_ahead(handle)
            e = self.lister.node_attrs(inode, node)
            e.st_size = attr.st_size
            return e
        current = self.lister.node_attrs(inode, node)
        if not fields.update_size and unchanged(current, attr, fields):
            return current  # 'cp -p' into an album re-applies the original's own times and mode
        raise erofs()

    async def readlink(self, inode: int, node: Node) -> bytes:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))

    # -- folders ---------------------------------------------------------------------
    async def opendir(self, inode: int, node: Node) -> Listing:
        listing = await self.lister.listing(inode)
        if isinstance(node, DirNode) and type(node).opened is not DirNode.opened:
            await self.workers.read(lambda: node.opened(self.lister.context()))  # e.g. search/ remembers the query
        return listing

    async def mkdir(self, parent: int, parent_node: Node, name: bytes, mode: int) -> None:
        folder = _dir(parent_node)
        await self.lister.write(lambda c: folder.mkdir(c, name), parent)

    async def rmdir(self, parent: int, parent_node: Node, name: bytes) -> None:
        folder = _dir(parent_node)
        attrs, child = await self.lookup(parent, folder, name)  # no reply to the kernel: not counted
        await self.lister.write(lambda c: folder.rmdir(c, name, child), parent, attrs.st_ino)

    async def unlink(self, parent: int, parent_node: Node, name: bytes) -> None:
        folder = _dir(parent_node)
        if self.copies.uploads.pop((parent, name), None) is not None:
            return
        _, child = await self.lookup(parent, folder, name)
        if isinstance(child, LibraryFile):
            file_id = child.row.id
            await self.lister.write(lambda c: folder.remove_file(c, file_id, name), parent)
            return
        raise OSError(errno.EISDIR if child.is_dir else errno.EROFS, "refused")

    async def rename(self, old_parent: int, old_node: Node, old_name: bytes, new_parent: int, new_node: Node,
                     new_name: bytes, flags: int) -> None:  # fmt: skip
        if old_parent != new_parent:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        if flags or not isinstance(old_node, DirNode):
            raise OSError(errno.EINVAL if flags else errno.ENOTDIR, "rename refused")
        folder = old_node
        _, child = await self.lookup(old_parent, folder, old_name)
        await self.lister.write(lambda c: folder.rename_child(c, old_name, new_name, child), old_parent)
        pyfuse3.invalidate_entry_async(old_parent, old_name, ignore_enoent=True)

    async def link(self, inode: int, node: Node, new_parent: int, parent_node: Node,
                   new_name: bytes) -> tuple[pyfuse3.EntryAttributes, Node, int | None]:  # fmt: skip
        if not isinstance(node, LibraryFile) or not isinstance(parent_node, DirNode):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        folder, file_id = parent_node, node.row.id
        await self.lister.write(lambda c: folder.add_file(c, file_id), new_parent)
        listing = await self.lister.listing(new_parent)
        if listing.index.get(new_name) is None or listing.inos[listing.index[new_name]] != inode:
            pyfuse3.invalidate_entry_async(new_parent, new_name, ignore_enoent=True)
        return self.lister.node_attrs(inode, node), node, None  # counted where it was

    # -- files -------------------------------------------------------------------------
    async def open(self, inode: int, node: Node, flags: int) -> Opened:
        if isinstance(node, TextFile):
            if flags & os.O_ACCMODE != os.O_RDONLY:
                raise erofs()
            data = await self.workers.read(lambda: node.produce(self.lister.context()))
            return Opened(TextHandle(data), direct_io=True)
        if isinstance(node, LibraryFile):
            if node.member_of is not None and flags & os.O_TRUNC and flags & os.O_ACCMODE != os.O_RDONLY:
                return Opened(await self.copies.member_upload(inode), direct_io=True)
            handle = await self.originals.open(node, inode, flags)
            st = handle.opened_stat
            fresh = (st.st_size, st.st_mtime_ns) == (node.row.size, node.row.mtime_ns)
            if not fresh:  # changed on disk since it was indexed: show it as it is now
                node.row = node.row._replace(size=st.st_size, mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns)
                trio.lowlevel.spawn_system_task(trio.to_thread.run_sync, invalidate_inodes, [inode])
            return Opened(handle, keep_cache=fresh and not handle.writable)
        raise OSError(errno.EISDIR if node.is_dir else errno.EROFS, "cannot open")

    async def create(self, parent: int, parent_node: Node, name: bytes, mode: int,
                     flags: int) -> tuple[Opened, pyfuse3.EntryAttributes]:  # fmt: skip
        if not isinstance(parent_node, DirNode) or not parent_node.accepts_files:
            raise erofs()
        handle, ino = await self.copies.start(parent, name)
        return Opened(handle, direct_io=True), self.lister.node_attrs(ino, handle.node)

    async def read(self, handle: Handle, off: int, size: int) -> bytes | memoryview:
        if isinstance(handle, OriginalHandle):  # on its source's threads, sequential reads ahead of the reader
            return await self.originals.read(handle, off, size)
        if handle.fd < 0:  # generated text: in memory
            return handle.read(off, size)
        return await self.workers.read(handle.read, off, size)

    async def write(self, handle: Handle, off: int, buf: bytes) -> int:
        if isinstance(handle, OriginalHandle):
            return await self.originals.write(handle, off, buf)
        if isinstance(handle, UploadHandle):  # compared with originals: the copies' threads
            return await self.workers.copy(handle.write, off, buf)
        return await self.workers.read(handle.write, off, buf)

    async def flush(self, handle: Handle) -> None:
        if isinstance(handle, UploadHandle) and handle.result is None:
            await self.copies.adopt(handle)
        elif isinstance(handle, OriginalHandle) and handle.writable:
            await self.originals.finish(handle)

    async def fsync(self, handle: Handle, datasync: bool) -> None:
        sync = os.fdatasync if datasync else os.fsync
        if isinstance(handle, OriginalHandle):
            await self.originals.io(handle, sync, handle.fd)
        elif handle.fd >= 0 and not isinstance(handle, UploadHandle):
            await self.workers.read(sync, handle.fd)

    async def release(self, handle: Handle) -> None:
        try:
            if isinstance(handle, OriginalHandle) and handle.writable:
                await self.originals.finish(handle)
            elif isinstance(handle, UploadHandle):
                self.copies.uploads.pop((handle.parent, handle.name), None)
        finally:
            if isinstance(handle, (OriginalHandle, UploadHandle)):  # their disks may not answer: not inline
                trio.lowlevel.spawn_system_task(self._close_later, handle)
            else:
                handle.close()  # text: in memory, and a release must not outlive the unmount

    async def _close_later(self, handle: Handle) -> None:
        """A system task: close a released handle off the request path (its disk may not answer)."""
        try:
            if isinstance(handle, OriginalHandle):
                await self.originals.close(handle)
            else:
                await self.workers.copy(handle.close)
        except OSError as exc:
            log.warning("closing a released file: %s", exc)
        except Exception:  # a system task must not raise
            log.exception("closing a released file")

    # -- extended attributes (user.gallerfs.*, with --xattrs) ---------------------------
    async def getxattr(self, inode: int, node: Node, name: bytes) -> bytes:
        if not isinstance(node, LibraryFile) or not name.startswith(PREFIX_BYTES):
            # ls -l asks security.selinux and system.posix_acl_access of every file: answer at once
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR)
        values = self.xattr_source.cached(node.row.id, self.lister.generation)
        if values is None:
            values = await self._xattr_values(node)
        try:
            return values[name]
        except KeyError:
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR) from None

    async def listxattr(self, inode: int, node: Node) -> list[bytes]:
        if not isinstance(node, LibraryFile):
            return []
        return list(await self._xattr_values(node))

    async def _xattr_values(self, node: LibraryFile) -> dict[bytes, bytes]:
        return await self.workers.read(
            lambda: self.xattr_source.values(self.workers.pool.get(), node.row.id, self.lister.generation))

    async def setxattr(self, inode: int, node: Node, name: bytes, value: bytes) -> None:
        raise erofs()

    async def removexattr(self, inode: int, node: Node, name: bytes) -> None:
        raise erofs()
