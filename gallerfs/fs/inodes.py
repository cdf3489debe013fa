"""Inode numbers, and the nodes the kernel holds, counted as the kernel counts them.

Numbers. A library file is ``FILE_INODE_BASE + id`` wherever it is listed
outside albums, and ``MEMBER_INODE_BASE | folder serial << 36 | id`` inside one
(see ``nodes.LibraryFile``): computed, so the same file always has the same
number, in every mount (file ids are never reused). Every other node gets the
next number of a counter the first time its key is seen, and keeps it while
anything holds it; a counter number is never handed out twice in one mount.

Lookup counts (pyfuse3 semantics). Every reply that gives the kernel an entry
(lookup, mkdir, create, link, and each entry of a readdirplus reply) adds one
to that inode's count (``ref``); ``forget`` takes away what the kernel says it
dropped. At zero:

* a computed number's node is dropped at once: it can be rebuilt from the
  library's row whenever it is needed again;
* any other node stays bound to its number among the most recently released
  ``UNHELD_KEPT`` (cheap: a folder or a generated file, not one per photo), so
  that a folder listed again keeps its number; beyond that the oldest binding
  is dropped and the key gets a new number if it is seen again;
* the root and the top-level folders (``pin``) are never dropped.

Nothing the kernel still counts is ever dropped, so open files and folders
(which hold a count in the kernel) keep working until they are released and
forgotten.

Generations (``EntryAttributes.generation``, part of an NFS file handle):
0 for the root, the top-level folders made with the mount (``pin(stable=True)``)
and computed numbers, which denote the same object in every mount; for every
other number the mount's ``epoch``, so a handle kept from an earlier mount,
where the same number meant something else, is stale rather than wrong. A
number's generation never changes while the mount runs (the kernel marks an
inode bad when it does).
"""

from __future__ import annotations

import errno
import itertools
import threading
import time
from collections import OrderedDict
from typing import Hashable, Iterable

from gallerfs.fs.nodes import FILE_INODE_BASE, MEMBER_ID_BITS, MEMBER_INODE_BASE, Node

ROOT_INODE = 1
UNHELD_KEPT = 4096  # counter-numbered nodes kept bound after the kernel forgot them


def computed(ino: int) -> bool:
    """Whether *ino* is a library file's computed number (its node can be rebuilt from the row)."""
    return ino > FILE_INODE_BASE


def _computed_number(key: tuple[Hashable, ...]) -> int | None:
    if key and key[0] == "file":
        return FILE_INODE_BASE + _file_id(key[1])
    return None


def _file_id(part: Hashable) -> int:
    """The file id in a library file's key (``("file", id)``, ``("member", folder, id)``)."""
    if not isinstance(part, int):
        raise TypeError(f"a file key holds its id, not {part!r}")
    return part


class _Slot:
    __slots__ = ("node", "parent", "count")

    def __init__(self, node: Node, parent: int, count: int = 0) -> None:
        self.node = node
        self.parent = parent
        self.count = count


class InodeTable:
    """Thread-safe: listings are built on worker threads, replies counted on the trio thread."""

    def __init__(self, root: Node, unheld_kept: int = UNHELD_KEPT) -> None:
        self._slots: dict[int, _Slot] = {ROOT_INODE: _Slot(root, ROOT_INODE)}
        self._by_key: dict[tuple[Hashable, ...], int] = {root.key: ROOT_INODE}  # counter numbers only
        self._pinned: set[int] = {ROOT_INODE}
        self._stable: set[int] = {ROOT_INODE}  # generation 0
        self._unheld: OrderedDict[int, None] = OrderedDict()  # counter numbers at count 0, oldest first
        self.unheld_kept = unheld_kept
        self._next = itertools.count(ROOT_INODE + 1)
        self._member_folders: dict[tuple[Hashable, ...], int] = {}  # folder key -> serial (bounded by folders)
        self._member_keys: dict[int, tuple[Hashable, ...]] = {}  # serial -> folder key
        self._lock = threading.Lock()
        self._peak = 0  # most slots since the table was last compacted
        self.epoch = (time.time_ns() // 1_000_000) & 0xFFFFFFFF or 1  # a generation of this mount

    # -- numbers -----------------------------------------------------------
    def _number(self, key: tuple[Hashable, ...]) -> int:
        """The inode for *key*, binding a new counter number on first sight (caller holds the lock)."""
        ino = _computed_number(key)
        if ino is not None:
            return ino
        if key[0] == "member":  # ("member", folder key, file id)
            folder_key = key[1]
            if not isinstance(folder_key, tuple):
                raise TypeError(f"a member key holds its folder's key, not {folder_key!r}")
            folder = self._member_folders.get(folder_key)
            if folder is None:
                folder = self._member_folders[folder_key] = len(self._member_folders) + 1
                self._member_keys[folder] = folder_key
            return MEMBER_INODE_BASE | folder << MEMBER_ID_BITS | _file_id(key[2])
        ino = self._by_key.get(key)
        if ino is None:
            ino = self._by_key[key] = next(self._next)
        return ino

    def _keep(self, ino: int, node: Node, parent: int | None) -> None:
        """Store *node* under *ino* without counting a reference (caller holds the lock)."""
        slot = self._slots.get(ino)
        if slot is not None:
            slot.node = node
            if parent is not None:
                slot.parent = parent
            return
        if computed(ino):
            return  # rebuilt from its row when needed: never stored unless the kernel holds it
        self._slots[ino] = _Slot(node, ROOT_INODE if parent is None else parent)
        self._release(ino)

    def ino(self, node: Node, parent: int | None = None) -> int:
        """The inode of *node*, without a kernel reference (a listing being built, an internal lookup)."""
        with self._lock:
            ino = self._number(node.key)
            self._keep(ino, node, parent)
            return ino

    def assign(self, nodes: list[Node], parent: int) -> list[int]:
        """``ino`` for a whole listing under one lock."""
        out = []
        with self._lock:
            for node in nodes:
                key = node.key
                ino = _computed_number(key)
                if ino is None:
                    ino = self._number(key)
                    self._keep(ino, node, parent)
                out.append(ino)
        return out

    def pin(self, node: Node, parent: int, stable: bool = True) -> int:
        """A node that lives as long as the mount (the top-level folders).

        *stable*: the same object in every mount (generation 0); only for numbers not handed out yet.
        """
        with self._lock:
            fresh = node.key not in self._by_key
            ino = self._number(node.key)
            if stable and fresh:
                self._stable.add(ino)
            slot = self._slots.setdefault(ino, _Slot(node, parent))
            slot.node, slot.parent = node, parent
            self._pinned.add(ino)
            self._unheld.pop(ino, None)
            return ino

    def unpin(self, ino: int) -> None:
        """Let a pinned node go once the kernel forgets it (a replaced top-level folder)."""
        with self._lock:
            self._pinned.discard(ino)
            slot = self._slots.get(ino)
            if slot is not None:
                self._by_key.pop(slot.node.key, None)
                if slot.count <= 0:
                    del self._slots[ino]

    def unbind(self, key: tuple[Hashable, ...]) -> None:
        """*key* now stands for a new object: the next one seen gets a new number.

        The old number stays valid for as long as the kernel holds it.
        """
        with self._lock:
            ino = self._by_key.pop(key, None)
            if ino is not None and ino not in self._pinned:
                slot = self._slots.get(ino)
                if slot is not None and slot.count <= 0:
                    del self._slots[ino]
                    self._unheld.pop(ino, None)

    # -- the kernel's references -------------------------------------------------
    def ref(self, ino: int, node: Node, parent: int | None = None) -> None:
        """The kernel was given an entry for *ino* (one more lookup)."""
        with self._lock:
            self._ref(ino, node, parent)

    def held_ino(self, node: Node, parent: int | None = None) -> int:
        """``ino`` and ``ref`` at once: the number of an entry about to be given to the kernel."""
        with self._lock:
            ino = self._number(node.key)
            self._ref(ino, node, parent)
            return ino

    def ref_many(self, inos: Iterable[int], nodes: Iterable[Node], parent: int) -> None:
        with self._lock:
            for ino, node in zip(inos, nodes):
                self._ref(ino, node, parent)

    def _ref(self, ino: int, node: Node, parent: int | None) -> None:
        slot = self._slots.get(ino)
        if slot is None:
            slot = self._slots[ino] = _Slot(node, ROOT_INODE if parent is None else parent)
        else:
            slot.node = node
            if parent is not None:
                slot.parent = parent
        if slot.count <= 0:
            self._unheld.pop(ino, None)
            if not computed(ino):
                self._by_key.setdefault(node.key, ino)  # rebinding after an eviction
        slot.count = max(slot.count, 0) + 1

    def forget(self, ino: int, nlookup: int) -> bool:
        """The kernel dropped *nlookup* references; True when the node itself was dropped."""
        with self._lock:
            slot = self._slots.get(ino)
            if slot is None:
                return False
            slot.count -= nlookup
            if slot.count > 0 or ino in self._pinned:
                return False
            slot.count = 0
            if computed(ino) or self._by_key.get(slot.node.key) != ino:  # rebuildable, or unbound
                del self._slots[ino]
                self._unheld.pop(ino, None)
                self._compact()
                return True
            self._release(ino)
            return False

    def _compact(self) -> None:
        """A dict never shrinks by deleting: copy it once most of a big table is gone (lock held)."""
        size = len(self._slots)
        self._peak = max(self._peak, size + 1)
        if self._peak > 8192 and size * 4 < self._peak:
            self._slots = dict(self._slots)
            self._peak = size

    def _release(self, ino: int) -> None:
        """Keep *ino* among the recently released; drop the oldest beyond the limit (lock held)."""
        self._unheld[ino] = None
        self._unheld.move_to_end(ino)
        while len(self._unheld) > self.unheld_kept:
            old, _ = self._unheld.popitem(last=False)
            slot = self._slots.pop(old, None)
            if slot is not None and self._by_key.get(slot.node.key) == old:
                del self._by_key[slot.node.key]

    # -- reading -------------------------------------------------------------------
    def node(self, ino: int) -> Node:
        slot = self._slots.get(ino)
        if slot is None:
            raise OSError(errno.ENOENT, "unknown inode")
        return slot.node

    def get(self, ino: int) -> Node | None:
        slot = self._slots.get(ino)
        return None if slot is None else slot.node

    def parent(self, ino: int) -> int:
        slot = self._slots.get(ino)
        return ROOT_INODE if slot is None else slot.parent

    def count(self, ino: int) -> int:
        slot = self._slots.get(ino)
        return 0 if slot is None else slot.count

    def member_folder(self, ino: int) -> tuple[Hashable, ...] | None:
        """The folder key a member inode belongs to (to rebuild it), or None."""
        if ino < MEMBER_INODE_BASE:
            return None
        return self._member_keys.get((ino - MEMBER_INODE_BASE) >> MEMBER_ID_BITS)

    def generation(self, ino: int) -> int:
        return 0 if ino in self._stable or computed(ino) else self.epoch

    def held(self) -> int:
        """How many inodes the kernel holds (counted)."""
        return sum(1 for s in self._slots.values() if s.count > 0)

    def __len__(self) -> int:
        return len(self._slots)
