"""Inode numbers: stable for the life of the mount.

A library file is ``FILE_INODE_BASE + id`` wherever it is listed outside
albums, and ``MEMBER_INODE_BASE | folder serial << 36 | id`` inside one (see
``nodes.LibraryFile``); every other node gets
the next free number the first time its key is seen, and keeps it. Inodes are
never reused during a mount (``forget`` is a no-op: a library's node count is
bounded by its size).
"""

from __future__ import annotations

import errno
import itertools
import threading
from typing import Hashable

from gallerfs.fs.nodes import FILE_INODE_BASE, MEMBER_ID_BITS, MEMBER_INODE_BASE, Node

ROOT_INODE = 1


class InodeTable:
    def __init__(self, root: Node) -> None:
        self._by_key: dict[tuple[Hashable, ...], int] = {root.key: ROOT_INODE}
        self._nodes: dict[int, Node] = {ROOT_INODE: root}
        self._parents: dict[int, int] = {ROOT_INODE: ROOT_INODE}
        self._next = itertools.count(ROOT_INODE + 1)
        self._member_folders: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def ino(self, node: Node, parent: int | None = None) -> int:
        """The inode of *node* (allocated on first sight); the table keeps the newest node object."""
        key = node.key
        with self._lock:
            ino = self._number(key)
            self._nodes[ino] = node
            if parent is not None:
                self._parents[ino] = parent
            return ino

    def assign(self, nodes: list[Node], parent: int) -> list[int]:
        """``ino`` for a whole listing under one lock."""
        out = []
        by_key, nodes_by_ino, parents = self._by_key, self._nodes, self._parents
        with self._lock:
            for node in nodes:
                key = node.key
                if key[0] == "file":
                    ino = FILE_INODE_BASE + int(key[1])  # type: ignore[call-overload]
                else:
                    ino = by_key.get(key) or self._number(key)  # type: ignore[assignment]
                nodes_by_ino[ino] = node
                parents[ino] = parent
                out.append(ino)
        return out

    def _number(self, key: tuple[Hashable, ...]) -> int:
        """The inode for *key* (caller holds the lock)."""
        if key[0] == "file":
            return FILE_INODE_BASE + int(key[1])  # type: ignore[call-overload]
        ino = self._by_key.get(key)
        if ino is None:
            if key[0] == "member":  # ("member", folder key, file id)
                folder = self._member_folders.setdefault(key[1], len(self._member_folders) + 1)
                ino = MEMBER_INODE_BASE | folder << MEMBER_ID_BITS | int(key[2])  # type: ignore[call-overload]
            else:
                ino = next(self._next)
            self._by_key[key] = ino
        return ino

    def node(self, ino: int) -> Node:
        try:
            return self._nodes[ino]
        except KeyError:
            raise OSError(errno.ENOENT, "unknown inode") from None

    def get(self, ino: int) -> Node | None:
        return self._nodes.get(ino)

    def parent(self, ino: int) -> int:
        return self._parents.get(ino, ROOT_INODE)

    def __len__(self) -> int:
        return len(self._nodes)
