"""The journal passthrough: ``journal/`` and everything below it, read-write onto the real folder.

A ``Provider`` (see ``provider``) for ``JournalRoot`` and ``JournalNode``
inodes. Real files are found and remembered by ``journal.JournalNodes``;
every system call runs on a reader thread. ``journal/_photos/`` is the one
virtual folder inside (``journal_photos``): this provider names it, the
virtual tree serves what is below it. A new empty entry created through the
mount gets its template once released (``journal_hooks``).
"""

from __future__ import annotations

import errno
import logging
import os

import pyfuse3
import trio

from gallerfs.fs import journal_photos
from gallerfs.fs.fuseutil import Listing
from gallerfs.fs.handles import FdHandle, Handle, HandleTable
from gallerfs.fs.inodes import InodeTable
from gallerfs.fs.journal import JournalNode, JournalNodes, JournalRoot, apply_setattr, check_name
from gallerfs.fs.journal_hooks import JournalCreatedHandle
from gallerfs.fs.lister import TreeLister
from gallerfs.fs.nodes import LibraryFile, Node, erofs
from gallerfs.fs.provider import MountConfig, Opened
from gallerfs.fs.workers import Workers
from gallerfs.renameat import RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2

log = logging.getLogger(__name__)


def _real(node: Node) -> bytes:
    """The real path of a journal inode's node (the dispatcher sends only those here)."""
    if not isinstance(node, (JournalNode, JournalRoot)):
        raise TypeError(f"not a journal node: {node!r}")
    return node.path


class JournalPassthrough:
    """The provider of ``journal/``; ``path`` is the real folder served (``switch`` changes it)."""

    def __init__(self, path: bytes, config: MountConfig, inodes: InodeTable, workers: Workers, handles: HandleTable,
                 lister: TreeLister) -> None:  # fmt: skip
        self.path = path
        self.nodes = JournalNodes(path)
        self.config = config
        self.inodes = inodes
        self.workers = workers
        self.handles = handles
        self.lister = lister  # attributes with the mount's generations, and of journal/_photos/

    def switch(self, path: bytes) -> None:
        """Serve *path* from now on (a new ``journal_dir`` setting)."""
        self.path = path
        self.nodes = JournalNodes(path)

    # -- names and attributes ----------------------------------------------------
    async def lookup(self, parent: int, parent_node: Node, name: bytes) -> tuple[pyfuse3.EntryAttributes, Node]:
        if isinstance(parent_node, JournalRoot) and name in journal_photos.VIRTUAL_NAMES:
            virtual = journal_photos.virtual_child(name)
            assert virtual is not None  # every name of VIRTUAL_NAMES has its node
            return self.lister.node_attrs(self.inodes.ino(virtual, parent), virtual), virtual
        path = _real(parent_node)

        def find() -> tuple[pyfuse3.EntryAttributes, Node]:
            node, st = self.nodes.lookup(path, name)
            return self.lister.stat_attrs(self.inodes.ino(node, parent), st), node

        return await self.workers.read(find)

    async def getattr(self, inode: int, node: Node) -> pyfuse3.EntryAttributes:
        return await self.workers.read(self.lister.node_attrs, inode, node)

    async def setattr(self, inode: int, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
                      fh: int | None) -> pyfuse3.EntryAttributes:  # fmt: skip
        handle = self.handles.get(fh)
        target = handle.fd if isinstance(handle, FdHandle) else _real(node)
        await self.workers.read(apply_setattr, target, attr, fields)
        return await self.getattr(inode, node)

    async def readlink(self, inode: int, node: Node) -> bytes:
        if not isinstance(node, JournalNode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return await self.workers.read(os.readlink, node.path)

    # -- folders ---------------------------------------------------------------------
    async def opendir(self, inode: int, node: Node) -> Listing:
        path = _real(node)
        virtual = journal_photos.VIRTUAL_NAMES if isinstance(node, JournalRoot) else ()

        def snapshot() -> Listing:
            names: list[bytes] = []
            inos: list[int] = []
            attrs: list[pyfuse3.EntryAttributes] = []
            nodes: list[Node] = []
            for name, child, st in self.nodes.listdir(path):
                if name in virtual:
                    continue
                ino = self.inodes.ino(child, inode)
                names.append(name)
                inos.append(ino)
                attrs.append(self.lister.stat_attrs(ino, st))
                nodes.append(child)
            for name in virtual:
                vnode = journal_photos.virtual_child(name)
                assert vnode is not None
                ino = self.inodes.ino(vnode, inode)
                names.append(name)
                inos.append(ino)
                attrs.append(self.lister.node_attrs(ino, vnode))
                nodes.append(vnode)
            return Listing(names, inos, attrs, {}, nodes)

        return await self.workers.read(snapshot)

    async def mkdir(self, parent: int, parent_node: Node, name: bytes, mode: int) -> None:
        check_name(name)
        await self.workers.read(os.mkdir, _real(parent_node) + b"/" + name, mode)

    async def rmdir(self, parent: int, parent_node: Node, name: bytes) -> None:
        path = _real(parent_node) + b"/" + name
        await self.workers.read(os.rmdir, path)
        self.nodes.forget_path(path)

    async def unlink(self, parent: int, parent_node: Node, name: bytes) -> None:
        path = _real(parent_node) + b"/" + name
        await self.workers.read(os.unlink, path)
        self.nodes.forget_path(path)

    async def rename(self, old_parent: int, old_node: Node, old_name: bytes, new_parent: int, new_node: Node,
                     new_name: bytes, flags: int) -> None:  # fmt: skip
        check_name(new_name)
        src = _real(old_node) + b"/" + old_name
        dst = _real(new_node) + b"/" + new_name

        def move() -> None:
            if flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE):
                raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
            if not flags & RENAME_EXCHANGE and os.path.lexists(dst):
                self.nodes.forget_path(dst)
            renameat2(src, dst, flags)
            if flags & RENAME_EXCHANGE:
                tmp = dst + b"\x00swap"
                self.nodes.moved(src, tmp)
                self.nodes.moved(dst, src)
                self.nodes.moved(tmp, dst)
            else:
                self.nodes.moved(src, dst)

        await self.workers.read(move)

    async def link(self, inode: int, node: Node, new_parent: int, parent_node: Node,
                   new_name: bytes) -> tuple[pyfuse3.EntryAttributes, Node, int | None]:  # fmt: skip
        if not isinstance(node, JournalNode):
            if isinstance(node, LibraryFile) and isinstance(parent_node, JournalRoot):
                raise erofs()  # journal/ itself refuses a library file as the tree's read-only folders do
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        check_name(new_name)
        await self.workers.read(lambda: os.link(node.path, _real(parent_node) + b"/" + new_name, follow_symlinks=False))
        attrs, found = await self.lookup(new_parent, parent_node, new_name)
        return attrs, found, new_parent

    # -- files -------------------------------------------------------------------------
    async def open(self, inode: int, node: Node, flags: int) -> Opened:
        if not isinstance(node, JournalNode):
            raise OSError(errno.EISDIR, "cannot open")  # journal/ itself
        fd = await self.workers.read(os.open, node.path, flags & ~os.O_CREAT)
        return Opened(FdHandle(fd))

    async def create(self, parent: int, parent_node: Node, name: bytes, mode: int,
                     flags: int) -> tuple[Opened, pyfuse3.EntryAttributes]:  # fmt: skip
        check_name(name)
        path = _real(parent_node) + b"/" + name

        def make() -> tuple[int, pyfuse3.EntryAttributes]:
            fd = os.open(path, flags | os.O_CREAT, mode)
            node = self.nodes.node_for(path, os.fstat(fd))
            return fd, self.lister.stat_attrs(self.inodes.held_ino(node, parent), os.fstat(fd))

        fd, attrs = await self.workers.read(make)
        return Opened(JournalCreatedHandle(fd, parent, name, path)), attrs

    async def read(self, handle: Handle, off: int, size: int) -> bytes | memoryview:
        return await self.workers.read(handle.read, off, size)

    async def write(self, handle: Handle, off: int, buf: bytes) -> int:
        return await self.workers.read(handle.write, off, buf)

    async def flush(self, handle: Handle) -> None:
        return None  # written through at once: nothing is held back

    async def fsync(self, handle: Handle, datasync: bool) -> None:
        if handle.fd >= 0:
            await self.workers.read(os.fdatasync if datasync else os.fsync, handle.fd)

    async def release(self, handle: Handle) -> None:
        handle.close()  # local, and a release must not outlive the unmount
        if isinstance(handle, JournalCreatedHandle) and handle.may_be_entry():  # an empty new entry: template
            c = self.config
            trio.lowlevel.spawn_system_task(handle.fill_later, c.paths, c.settings, self.workers.pool.get)

    # -- extended attributes (the mount's --xattrs: the real file's) ------------------
    async def getxattr(self, inode: int, node: Node, name: bytes) -> bytes:
        if not isinstance(node, JournalNode):
            raise pyfuse3.FUSEError(pyfuse3.ENOATTR)
        return await self.workers.read(lambda: os.getxattr(node.path, name, follow_symlinks=False))

    async def listxattr(self, inode: int, node: Node) -> list[bytes]:
        if not isinstance(node, JournalNode):
            return []
        return [os.fsencode(n) for n in await self.workers.read(lambda: os.listxattr(node.path, follow_symlinks=False))]

    async def setxattr(self, inode: int, node: Node, name: bytes, value: bytes) -> None:
        if not isinstance(node, JournalNode):
            raise erofs()
        await self.workers.read(lambda: os.setxattr(node.path, name, value, follow_symlinks=False))

    async def removexattr(self, inode: int, node: Node, name: bytes) -> None:
        if not isinstance(node, JournalNode):
            raise erofs()
        await self.workers.read(lambda: os.removexattr(node.path, name, follow_symlinks=False))
