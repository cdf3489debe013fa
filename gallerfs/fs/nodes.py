"""The virtual tree's building blocks: nodes, entries, attributes and the listing context.

Pure code: no pyfuse3 here. Refusals are ``OSError(errno.X)``; the
``Operations`` class turns them into FUSE errors.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, NamedTuple, TypeVar, cast

from gallerfs.db.tree import FileRow
from gallerfs.filenames import strip_suffix as strip_suffix  # re-exported: the tree's naming rules
from gallerfs.filenames import unique_names as unique_names
from gallerfs.filenames import with_suffix as with_suffix
from gallerfs.lru import LRU

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

V = TypeVar("V")

DIR_MODE = stat.S_IFDIR | 0o755
FILE_MODE = stat.S_IFREG | 0o644
TEXT_MODE = stat.S_IFREG | 0o444
MOUNT_TIME_NS = time.time_ns()
# A library file's inode is FILE_INODE_BASE + its id, the same wherever it is listed outside
# albums; inside a folder of memberships (an album, favourites) it is
# MEMBER_INODE_BASE | folder serial << MEMBER_ID_BITS | id. Either way the id can be read
# back from the inode (file_id_of_inode), e.g. for .gallerfs/inodes/<inode>.json.
FILE_INODE_BASE = 1 << 32
MEMBER_INODE_BASE = 1 << 62
MEMBER_ID_BITS = 36


def file_id_of_inode(ino: int) -> int | None:
    """The library file id behind a mount inode, or None for folders and other files."""
    if ino >= MEMBER_INODE_BASE:
        return ino & ((1 << MEMBER_ID_BITS) - 1)
    if ino > FILE_INODE_BASE:
        return ino - FILE_INODE_BASE
    return None


def erofs() -> OSError:
    return OSError(errno.EROFS, os.strerror(errno.EROFS))


class Attr(NamedTuple):  # a NamedTuple, not a dataclass: one is made per listed file
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    nlink: int = 1


class Memo:
    """Derived data computed once per library generation (shared by all threads)."""

    RECENT_KEPT = 256  # values kept by get_recent (search/ and similar/ results)

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self._values: dict[Hashable, Any] = {}
        self._recent: LRU[Hashable, Any] = LRU(self.RECENT_KEPT)
        self._lock = threading.Lock()

    # Values of any type share one store: each key is only ever computed by one function, so the
    # value found under it is what that function returns (the casts say so).
    def get_recent(self, key: Hashable, compute: Callable[[], V]) -> V:
        """``get`` for values of an unbounded key space: only the most recently used are kept."""
        return cast(V, self._recent.get_or_compute(key, compute))

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._values:
                return cast(V, self._values[key])
        value = compute()
        with self._lock:
            return cast(V, self._values.setdefault(key, value))


@dataclass
class TreeContext:
    """What a node needs to list itself; built per call, on a worker thread."""

    db: Database  # this thread's read-only connection
    memo: Memo
    paths: LibraryPaths
    settings: Settings
    xattrs: bool = False
    writer_factory: Callable[[], Database] | None = None

    def writer(self) -> Database:
        if self.writer_factory is None:
            raise erofs()
        return self.writer_factory()


class Node:
    """Anything in the tree. ``key`` is its identity: same key, same inode.

    A kind of node gives its key as a class attribute, an attribute set in
    ``__init__`` or a property (frozen dataclasses: computed from their fields).
    """

    if TYPE_CHECKING:  # to the type checker a read-only property, which any of the three may override

        @property
        def key(self) -> tuple[Hashable, ...]: ...

    else:
        key: tuple[Hashable, ...] = ()
    is_dir = False

    def attr(self) -> Attr:
        raise NotImplementedError


class Entry(NamedTuple):
    name: bytes
    node: Node


class DirNode(Node):
    """A directory. Subclasses implement ``list``; write operations are opt-in.

    All methods run on a worker thread. ``list`` and ``lookup`` must not write.
    """

    is_dir = True
    dynamic_lookup = False  # True: names are resolved by lookup(), not from the listing
    mtime_ns = MOUNT_TIME_NS

    def attr(self) -> Attr:
        return Attr(DIR_MODE, 4096, self.mtime_ns, self.mtime_ns, 2)

    def list(self, ctx: TreeContext) -> list[Entry]:
        raise NotImplementedError

    def lookup(self, ctx: TreeContext, name: bytes) -> Entry | None:
        """Only called when ``dynamic_lookup`` is set."""
        return None

    def opened(self, ctx: TreeContext) -> None:
        """Called after every successful opendir, once the listing is built (``search/`` remembers its query)."""

    # -- writes: refused unless a directory kind allows them -------------
    def mkdir(self, ctx: TreeContext, name: bytes) -> None:
        raise erofs()

    def rmdir(self, ctx: TreeContext, name: bytes, child: Node) -> None:
        raise erofs()

    def rename_child(self, ctx: TreeContext, old: bytes, new: bytes, child: Node) -> None:
        raise erofs()

    def add_file(self, ctx: TreeContext, file_id: int) -> None:
        """``ln``/``cp`` of a library file into this directory."""
        raise erofs()

    def remove_file(self, ctx: TreeContext, file_id: int, name: bytes) -> None:
        """``rm`` of a library file listed here."""
        raise erofs()

    @property
    def accepts_files(self) -> bool:
        return type(self).add_file is not DirNode.add_file


class LibraryFile(Node):
    """An original, listed wherever it appears.

    Outside albums a file has one inode (``FILE_INODE_BASE + id``) wherever it
    is listed. Inside a folder of memberships (an album, favourites) it gets
    its own inode (``member_of`` is that folder's key), so that a program
    overwriting it there (``cp`` onto an existing name) is understood as adding
    a file to the album, never as rewriting this original.
    """

    __slots__ = ("row", "member_of")

    def __init__(self, row: FileRow, member_of: tuple[Hashable, ...] | None = None) -> None:
        self.row = row
        self.member_of = member_of

    @property
    def key(self) -> tuple[Hashable, ...]:
        if self.member_of is not None:
            return ("member", self.member_of, self.row.id)
        return ("file", self.row.id)

    def attr(self) -> Attr:
        r = self.row
        return Attr(FILE_MODE, r.size, r.mtime_ns, r.ctime_ns, 1)


class TextFile(Node):
    """A small generated read-only file (``.gallerfs/``). Content is rebuilt on every open."""

    key: tuple[Hashable, ...]

    def __init__(self, key: tuple[Hashable, ...], produce: Callable[[TreeContext], bytes], size: int) -> None:
        self.key = key
        self.produce = produce
        self.size = size

    def attr(self) -> Attr:
        return Attr(TEXT_MODE, self.size, MOUNT_TIME_NS, MOUNT_TIME_NS, 1)


@dataclass
class StaticDir(DirNode):
    """A directory with a fixed set of children built by a function."""

    key: tuple[Hashable, ...] = field(default=())
    children: Callable[[TreeContext], list[Entry]] = field(default=lambda ctx: [])

    def list(self, ctx: TreeContext) -> list[Entry]:
        return self.children(ctx)


def file_entries(
    files: Iterable[FileRow], taken: Iterable[bytes] = (), member_of: tuple[Hashable, ...] | None = None
) -> list[Entry]:
    return [Entry(name, LibraryFile(row, member_of)) for name, row in unique_names(files, taken)]


def fs_name(text: str) -> bytes:
    """A TEXT column shown as a file name (no '/', never empty)."""
    name = os.fsencode(text).replace(b"/", b"\xe2\x88\x95")  # U+2215 DIVISION SLASH
    return name if name not in (b"", b".", b"..") else b"_" + name
