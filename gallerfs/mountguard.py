"""Keeping gallerfs mounts and sources apart (DESIGN.md §6).

A mount point is never inside, equal to, or around a source: mounted inside a
source, the next scan would index the library's own virtual files (and phase 2
reading them through the mount deadlocks with it); mounted over or around one,
the originals disappear from view and a rescan would forget them. A folder
inside a gallerfs mount is never added as a source, and the scanner and the
watcher never descend into a gallerfs mount, whatever the configuration says.

gallerfs mounts are recognised in /proc/self/mountinfo by their type
(``fuse.gallerfs``, from ``subtype=gallerfs``) or their source (``fsname=gallerfs``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

from gallerfs.errors import OverlapError

FSNAME = "gallerfs"
FSTYPE = f"fuse.{FSNAME}"


def _within(path: bytes, folder: bytes) -> bool:
    """path is folder or lies under it (both absolute, normalised)."""
    folder = folder.rstrip(b"/")
    return path == folder or path.startswith(folder + b"/") or folder == b""


def _real(path: bytes | str) -> bytes:
    return os.path.realpath(os.fsencode(os.path.abspath(os.path.expanduser(path))))


@dataclass(frozen=True)
class GallerfsMounts:
    """The gallerfs filesystems mounted right now: their mount points and device numbers."""

    points: frozenset[bytes]
    devices: frozenset[int]

    def containing(self, path: bytes) -> bytes | None:
        """The gallerfs mount point that path is (or is inside of), if any. path must be absolute."""
        for point in self.points:
            if _within(path, point):
                return point
        return None

    def inside(self, folder: bytes) -> list[bytes]:
        """The gallerfs mount points strictly inside folder (absolute, normalised)."""
        folder = folder.rstrip(b"/")
        return sorted(p for p in self.points if p != folder and _within(p, folder))

    def is_mount(self, path: bytes, st_dev: int | None = None) -> bool:
        """path is a gallerfs mount point, or (cheap defence) its device is one of theirs."""
        return path in self.points or (st_dev is not None and st_dev in self.devices)


def is_gallerfs(fs_type: str, fs_source: str) -> bool:
    return fs_type == FSTYPE or (fs_type.startswith("fuse") and fs_source == FSNAME)


def gallerfs_mounts() -> GallerfsMounts:
    """Read /proc/self/mountinfo (an unreadable one means no mounts are known)."""
    from gallerfs.indexer.volumes import mount_table

    try:
        table = mount_table()
    except OSError:
        return GallerfsMounts(frozenset(), frozenset())
    points, devices = set(), set()
    for entry in table:
        if is_gallerfs(entry.fs_type, entry.device):
            points.add(entry.mount_point)
            major, _, minor = entry.major_minor.partition(":")
            if major.isdigit() and minor.isdigit():
                devices.add(os.makedev(int(major), int(minor)))
    return GallerfsMounts(frozenset(points), frozenset(devices))


def _shown(path: bytes) -> str:
    return os.fsdecode(path)


def check_mountpoint(mountpoint: str, sources: Iterable[tuple[str, bytes]]) -> None:
    """Refuse a mount point inside, equal to, or around a source (given as (name, path) pairs)."""
    target = _real(mountpoint)
    for name, path in sources:
        root = os.path.realpath(path)
        if _within(target, root):
            where = "is" if target == root.rstrip(b"/") else "is inside"
            raise OverlapError(
                f"{mountpoint} {where} source {name!r} ({_shown(path)}): mount the library outside every source"
            )
        if _within(root, target):
            raise OverlapError(
                f"{mountpoint} contains source {name!r} ({_shown(path)}): mounting there would hide it; "
                "mount the library outside every source"
            )


def check_new_source(folder: bytes, mounts: GallerfsMounts | None = None) -> None:
    """Refuse a source folder that is (inside) a gallerfs mount. One that contains a mount is fine:
    scans never descend into it."""
    mounts = mounts if mounts is not None else gallerfs_mounts()
    real = os.path.realpath(folder)
    point = mounts.containing(real)
    if point is None:
        try:
            dev = os.stat(real).st_dev
        except OSError:
            return
        if dev not in mounts.devices:
            return
        point = real
    raise OverlapError(
        f"{_shown(folder)} is inside the gallerfs mount {_shown(point)}: add the original folders instead"
    )
