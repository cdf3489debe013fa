"""What the ``Operations`` dispatcher delegates to: a provider of inodes.

The mount has two: the virtual tree (``virtual.VirtualTree``: ``sources/``,
``by-date/``, ``by-album/``, ``search/``… built from the library) and the
journal passthrough (``passthrough.JournalPassthrough``: the real journal
folder, read-write). ``Operations`` picks the provider of an inode from its
node (``Operations.provider_of``) and hands it the node; a provider never
counts the kernel's references except for ``create``, whose reply numbers a
new file (it takes the reference as it numbers it, see ``InodeTable.held_ino``).

All methods run on the trio thread and raise ``OSError(errno.X)`` (or
``pyfuse3.FUSEError``) for refusals; blocking work goes to ``Workers``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pyfuse3

from gallerfs.fs.fuseutil import Listing
from gallerfs.fs.handles import Handle
from gallerfs.fs.nodes import Node

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.paths import LibraryPaths


@dataclass
class MountConfig:
    """What the mount was started with; ``settings`` is replaced when the settings file changes."""

    paths: LibraryPaths
    settings: Settings
    xattrs: bool = False
    uid: int = field(default_factory=os.getuid)
    gid: int = field(default_factory=os.getgid)


@dataclass
class Opened:
    """A file a provider opened: its handle, and how the kernel should cache it."""

    handle: Handle
    direct_io: bool = False
    keep_cache: bool = True  # pyfuse3.FileInfo's default


class Provider(Protocol):
    """One kind of inode. *node* is always the node of the inode passed with it."""

    async def lookup(self, parent: int, parent_node: Node, name: bytes) -> tuple[pyfuse3.EntryAttributes, Node]:
        """*name* in *parent* (never ``.`` or ``..``), without counting a kernel reference."""
        ...

    async def getattr(self, inode: int, node: Node) -> pyfuse3.EntryAttributes: ...

    async def setattr(self, inode: int, node: Node, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields,
                      fh: int | None) -> pyfuse3.EntryAttributes: ...  # fmt: skip

    async def readlink(self, inode: int, node: Node) -> bytes: ...

    async def opendir(self, inode: int, node: Node) -> Listing:
        """The listing an ``opendir`` handle keeps (its positions are the readdir offsets)."""
        ...

    async def mkdir(self, parent: int, parent_node: Node, name: bytes, mode: int) -> None: ...

    async def rmdir(self, parent: int, parent_node: Node, name: bytes) -> None: ...

    async def unlink(self, parent: int, parent_node: Node, name: bytes) -> None: ...

    async def rename(self, old_parent: int, old_node: Node, old_name: bytes, new_parent: int, new_node: Node,
                     new_name: bytes, flags: int) -> None:  # fmt: skip
        """Both parents are this provider's."""
        ...

    async def link(self, inode: int, node: Node, new_parent: int, parent_node: Node,
                   new_name: bytes) -> tuple[pyfuse3.EntryAttributes, Node, int | None]:  # fmt: skip
        """*new_parent* is this provider's; the reply and its node, and the parent to count it under (None: as it is)."""
        ...

    async def open(self, inode: int, node: Node, flags: int) -> Opened: ...

    async def create(self, parent: int, parent_node: Node, name: bytes, mode: int,
                     flags: int) -> tuple[Opened, pyfuse3.EntryAttributes]:  # fmt: skip
        """A new file; its reply's kernel reference is counted here."""
        ...

    async def read(self, handle: Handle, off: int, size: int) -> bytes | memoryview: ...

    async def write(self, handle: Handle, off: int, buf: bytes) -> int: ...

    async def flush(self, handle: Handle) -> None: ...

    async def fsync(self, handle: Handle, datasync: bool) -> None: ...

    async def release(self, handle: Handle) -> None:
        """The handle is gone from the table; close it (now, or off the request path)."""
        ...

    async def getxattr(self, inode: int, node: Node, name: bytes) -> bytes: ...

    async def listxattr(self, inode: int, node: Node) -> list[bytes]: ...

    async def setxattr(self, inode: int, node: Node, name: bytes, value: bytes) -> None: ...

    async def removexattr(self, inode: int, node: Node, name: bytes) -> None: ...
