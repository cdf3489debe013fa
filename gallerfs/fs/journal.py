"""``journal/``: a plain read-write passthrough onto the journal folder.

A real file is found by its (st_dev, st_ino), so a file renamed by an editor
keeps its inode. Each node remembers the real path it was last seen at;
renames update it (and the paths under a renamed folder). A node lives only as
long as the mount's inode table holds it; a file seen afresh (or a new file
that the filesystem gave a deleted file's st_ino) gets a new node with a new
key, so the mount never gives one inode number to two different files. All functions are blocking and raise ``OSError``; the
``Operations`` class calls them on worker threads.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import itertools
import threading
import weakref
from typing import Hashable

import pyfuse3

from gallerfs.fs.nodes import DirNode, Entry, Node, TreeContext

log = logging.getLogger(__name__)

class JournalNode(Node):
    """A file or folder inside the journal; ``path`` is where it was last seen."""

    key: tuple[Hashable, ...]

    def __init__(self, key: tuple[Hashable, ...], path: bytes, is_dir: bool) -> None:
        self.key = key
        self.path = path
        self.is_dir = is_dir

    def stat(self) -> os.stat_result:
        return os.lstat(self.path)


class JournalRoot(DirNode):
    """The top-level ``journal/`` entry; the Operations class passes everything below it through."""

    key: tuple[Hashable, ...]

    def __init__(self, path: bytes, serial: int = 0) -> None:
        self.path = path
        # a journal folder switched to while mounted is a new folder to the kernel: a new key, a new inode
        self.key = ("top", b"journal") if not serial else ("top", b"journal", serial)

    def list(self, ctx: TreeContext) -> list[Entry]:  # listed by the passthrough, never from here
        return []


class JournalNodes:
    """Real path <-> journal node bookkeeping (thread-safe)."""

    def __init__(self, root: bytes) -> None:
        self.root = root
        # (st_dev, st_ino) -> the node the mount holds for it; weak: the inode table owns the nodes
        self._by_key: weakref.WeakValueDictionary[tuple[int, int], JournalNode] = weakref.WeakValueDictionary()
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    def node_for(self, path: bytes, st: os.stat_result) -> JournalNode:
        real = (st.st_dev, st.st_ino)
        with self._lock:
            node = self._by_key.get(real)
            if node is None or node.is_dir != stat.S_ISDIR(st.st_mode):
                node = JournalNode(("journal", st.st_dev, st.st_ino, next(self._serial)), path, stat.S_ISDIR(st.st_mode))
                self._by_key[real] = node
            else:
                node.path = path
            return node

    def lookup(self, parent_path: bytes, name: bytes) -> tuple[JournalNode, os.stat_result]:
        path = parent_path + b"/" + name
        st = os.lstat(path)
        return self.node_for(path, st), st

    def forget_path(self, path: bytes) -> None:
        """The real file at *path* is gone: its inode number may be reused for a new file."""
        with self._lock:
            for key, node in list(self._by_key.items()):
                if node.path == path:
                    self._by_key.pop(key, None)

    def moved(self, old: bytes, new: bytes) -> None:
        """*old* was renamed to *new*: update it and everything under it."""
        prefix = old + b"/"
        with self._lock:
            for node in list(self._by_key.values()):
                if node.path == old:
                    node.path = new
                elif node.path.startswith(prefix):
                    node.path = new + node.path[len(old) :]

    def listdir(self, path: bytes) -> list[tuple[bytes, JournalNode, os.stat_result]]:
        out = []
        with os.scandir(path) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                out.append((entry.name, self.node_for(entry.path, st), st))
        out.sort(key=lambda e: e[0])
        return out


def apply_setattr(target: bytes | int, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields) -> None:
    """setattr on a real file, by path or by open descriptor: truncate, chmod, chown, utimens."""
    if fields.update_size:
        os.truncate(target, attr.st_size)
    if fields.update_mode:
        os.chmod(target, attr.st_mode & 0o7777)
    if fields.update_uid or fields.update_gid:
        os.chown(target, attr.st_uid if fields.update_uid else -1, attr.st_gid if fields.update_gid else -1)
    if fields.update_atime or fields.update_mtime:
        st = os.stat(target) if isinstance(target, int) else os.lstat(target)
        atime = attr.st_atime_ns if fields.update_atime else st.st_atime_ns
        mtime = attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns
        if isinstance(target, int):
            os.utime(target, ns=(atime, mtime))
        else:
            os.utime(target, ns=(atime, mtime), follow_symlinks=False)


def check_name(name: bytes) -> None:
    if not name or b"/" in name or name in (b".", b".."):
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
