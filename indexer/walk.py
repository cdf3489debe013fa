"""Phase 1's walk of a source: its photos and videos, a folder at a time, and the problems met on the way.

The walk works on bytes paths end to end, so names that are not UTF-8, contain
newlines or are 255 bytes long round-trip exactly. Unreadable folders and
symlink loops are recorded as problems and skipped. The walk never descends
into a gallerfs mount.

This module imports only what the walk needs (no database): it is also what
the walk's child process runs (see walk_process). A walk in progress is a
``Walk``: the folders still to list and the folders already met, which is all
it takes for another process to carry on from where it stopped.
"""

from __future__ import annotations

import errno
import operator
import os
import stat
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from gallerfs.indexer.media import kind_of, special_kind
from gallerfs.mountguard import GallerfsMounts, gallerfs_mounts

# Folders that hold caches or trash, never a user's photos.
SKIPPED_DIRS = frozenset({b"@eaDir", b"#recycle", b"$RECYCLE.BIN", b"System Volume Information", b"lost+found"})

GALLERFS_MOUNT = "a gallerfs mount, never scanned"

# What the walk learns about a file, in ScannedFile's field order: (relpath, kind, size, mtime_ns, ctime_ns,
# device, inode). A Walk turns each into its caller's row type with `make` (ScannedFile, or tuple to send it).
FileFields = tuple[bytes, str, int, int, int, int, int]
R = TypeVar("R")


@dataclass(frozen=True)
class WalkProblem:
    relpath: bytes
    error: str
    is_dir: bool


_entry_name = operator.attrgetter("name")


def join_path(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


def describe_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


# How the walk holds a folder while it stats its entries: by descriptor, so that each stat resolves one name
# (fstatat) instead of the whole path again. O_PATH needs no read permission; scandir still reads the folder.
_FOLDER_FLAGS = os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)


class Walk(Generic[R]):
    """One walk of root, depth first, each folder's entries in name order.

    Between two folders that folders() yields, ``state()`` is where the walk stands: the folders still to
    list (a stack: the next one last) and the (device, inode) of every folder met. A Walk made from that
    state carries on with the next folder, as this one would have.
    """

    def __init__(
        self,
        root: bytes,
        make: Callable[[FileFields], R],
        mounts: GallerfsMounts | None = None,
        state: tuple[list[bytes], set[tuple[int, int]]] | None = None,
    ) -> None:
        self.root = root.rstrip(b"/") or b"/"
        self.make = make
        self.mounts = mounts if mounts is not None else gallerfs_mounts()
        self.stack: list[bytes] | None = None
        self.visited: set[tuple[int, int]] = set()
        if state is not None:
            self.stack, self.visited = list(state[0]), set(state[1])

    def state(self) -> tuple[list[bytes], set[tuple[int, int]]]:
        assert self.stack is not None, "the walk has not begun"
        return self.stack, self.visited

    def folders(self) -> Iterator[tuple[list[R], list[WalkProblem]]]:
        """For each folder, its photos and videos (by name) and the problems met in it (its own, and those
        of the entries it lists)."""
        if self.stack is None:
            problem = self._check_root()
            if problem is not None:
                self.stack = []
                yield [], [problem]
                return
        stack = self.stack
        assert stack is not None
        while stack:
            rel_dir = stack.pop()
            files: list[R] = []
            problems: list[WalkProblem] = []
            subdirs: list[bytes] = []
            self._read_folder(rel_dir, files, problems, subdirs)
            stack.extend(reversed(subdirs))
            yield files, problems

    def _check_root(self) -> WalkProblem | None:
        """Begin the walk at its root, or the problem that stops it there."""
        root, mounts = self.root, self.mounts
        if mounts.containing(os.path.realpath(root)) is not None:
            return WalkProblem(b"", GALLERFS_MOUNT, True)
        try:
            root_st = os.stat(root)
        except OSError as exc:
            return WalkProblem(b"", describe_error(exc), True)
        if mounts.is_mount(root, root_st.st_dev):
            return WalkProblem(b"", GALLERFS_MOUNT, True)
        self.visited = {(root_st.st_dev, root_st.st_ino)}
        self.stack = [b""]
        return None

    def _read_folder(self, rel_dir: bytes, files: list[R], problems: list[WalkProblem], subdirs: list[bytes]) -> None:
        """List one folder: its media files go to files, the folders to walk next to subdirs."""
        abs_dir = join_path(self.root, rel_dir) if rel_dir else self.root
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=_entry_name)
            folder_fd = os.open(abs_dir, _FOLDER_FLAGS)
        except OSError as exc:
            problems.append(WalkProblem(rel_dir, f"cannot read folder: {describe_error(exc)}", True))
            return
        try:
            self._read_entries(entries, rel_dir, folder_fd, files, problems, subdirs)
        finally:
            os.close(folder_fd)

    def _read_entries(
        self,
        entries: list[os.DirEntry[bytes]],
        rel_dir: bytes,
        folder_fd: int,
        files: list[R],
        problems: list[WalkProblem],
        subdirs: list[bytes],
    ) -> None:
        prefix = rel_dir + b"/" if rel_dir else b""
        stat_at, is_regular, add, make = os.stat, stat.S_ISREG, files.append, self.make
        for entry in entries:
            name = entry.name
            if name[0] == 46 or name in SKIPPED_DIRS:  # 46: b"."
                continue
            rel = prefix + name
            try:
                # The folder entry's type (d_type) answers without a system call; a plain file is neither
                # a folder nor a link, which spares most entries the two other questions.
                plain = entry.is_file(follow_symlinks=False)
                is_link = not plain and entry.is_symlink()
                is_dir = not plain and entry.is_dir(follow_symlinks=True)
            except OSError as exc:
                problems.append(WalkProblem(rel, describe_error(exc), False))
                continue
            if is_dir:
                self._enter_folder(entry, rel, is_link, problems, subdirs)
                continue
            kind = kind_of(name, entry)  # extension-less names are sniffed by content (the entry is their path)
            if kind is None:
                continue
            try:
                st = stat_at(name, dir_fd=folder_fd)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == errno.ELOOP else describe_error(exc)
                problems.append(WalkProblem(rel, reason, False))
                continue
            if not is_regular(st.st_mode):  # named like media, never opened: a FIFO would block a reader
                problems.append(WalkProblem(rel, f"not a regular file ({special_kind(st.st_mode)}), skipped", False))
                continue
            add(make((rel, kind, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev, st.st_ino)))

    def _enter_folder(
        self, entry: os.DirEntry[bytes], rel: bytes, is_link: bool, problems: list[WalkProblem], subdirs: list[bytes]
    ) -> None:
        """Queue a subfolder for the walk, unless it is a gallerfs mount or a folder already walked."""
        mounts = self.mounts
        target = os.path.realpath(entry.path) if is_link else entry.path
        if mounts.is_mount(target):  # checked before stat: a stuck mount would hang it
            problems.append(WalkProblem(rel, GALLERFS_MOUNT, True))
            return
        try:
            st = entry.stat(follow_symlinks=True)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                problems.append(WalkProblem(rel, "symlink loop, not followed", True))
            else:
                problems.append(WalkProblem(rel, f"cannot read folder: {describe_error(exc)}", True))
            return
        if mounts.is_mount(target, st.st_dev):
            problems.append(WalkProblem(rel, GALLERFS_MOUNT, True))
            return
        key = (st.st_dev, st.st_ino)
        if key in self.visited:
            if is_link:
                problems.append(
                    WalkProblem(rel, "symlink loop (points to a folder already walked), not followed", True)
                )
            return
        self.visited.add(key)
        subdirs.append(rel)


def in_batches(
    folders: Iterator[tuple[list[R], list[WalkProblem]]], size: int
) -> Iterator[tuple[list[R], list[WalkProblem]]]:
    """Folders regrouped into what one transaction writes: batches of `size` files (the last one may be
    shorter), each with the problems met since the one before (never more than `size` either)."""
    files: list[R] = []
    problems: list[WalkProblem] = []
    for found, met in folders:
        files += found
        problems += met
        taken = 0
        while len(files) - taken >= size:
            yield files[taken : taken + size], problems[:size]
            del problems[:size]
            taken += size
        del files[:taken]
        while len(problems) >= size:
            yield [], problems[:size]
            del problems[:size]
    if files or problems:
        yield files, problems
