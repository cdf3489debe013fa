"""Telling a plugged-in drive from the empty folder it leaves behind.

A source is identified by more than its path: the mount point it lived under,
the filesystem's UUID where one exists, and its type. When the drive is
unplugged the path often still exists (an empty mount-point folder on the
parent filesystem); the identity then no longer matches and the source is
*offline*, so nothing is ever deleted because a drive is missing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gallerfs.db.connection import Database
    from gallerfs.db.sources import Source


@dataclass(frozen=True)
class MountEntry:
    mount_point: bytes
    fs_type: str
    device: str  # the mount source, e.g. /dev/sdb1 or tmpfs
    major_minor: str


@dataclass(frozen=True)
class VolumeIdentity:
    mount_point: bytes
    fs_type: str | None
    fs_uuid: str | None
    device: int
    root_inode: int


def _unescape(field: str) -> bytes:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040)."""
    raw = field.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and len(raw[i + 1 : i + 4]) == 3 and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def mount_table(mountinfo: str = "/proc/self/mountinfo") -> list[MountEntry]:
    entries = []
    with open(mountinfo, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fields = left.split()
            rfields = right.split()
            if len(fields) < 5 or len(rfields) < 2:
                continue
            entries.append(
                MountEntry(
                    mount_point=_unescape(fields[4]),
                    fs_type=rfields[0],
                    device=rfields[1],
                    major_minor=fields[2],
                )
            )
    return entries


def mount_entry_for(path: bytes, table: list[MountEntry] | None = None) -> MountEntry | None:
    """The mount that holds path: the longest mount point that is a prefix of it (last one wins)."""
    real = os.path.realpath(path)
    best: MountEntry | None = None
    for entry in table if table is not None else mount_table():
        mp = entry.mount_point
        if real == mp or real.startswith(mp.rstrip(b"/") + b"/") or mp == b"/":
            if best is None or len(mp) >= len(best.mount_point):
                best = entry
    return best


def fs_uuid_for_device(st_dev: int, by_uuid: str = "/dev/disk/by-uuid") -> str | None:
    """The filesystem UUID of the block device behind st_dev, if udev lists one."""
    try:
        names = os.listdir(by_uuid)
    except OSError:
        return None
    for name in names:
        try:
            st = os.stat(os.path.join(by_uuid, name))
        except OSError:
            continue
        if stat.S_ISBLK(st.st_mode) and st.st_rdev == st_dev:
            return name
    return None


def identify(path: bytes) -> VolumeIdentity:
    """Read the identity of the volume holding path (which must exist)."""
    st = os.stat(path)
    entry = mount_entry_for(path)
    uuid = fs_uuid_for_device(st.st_dev)
    return VolumeIdentity(
        mount_point=entry.mount_point if entry else b"/",
        fs_type=entry.fs_type if entry else None,
        fs_uuid=uuid,
        device=st.st_dev,
        root_inode=st.st_ino,
    )


@dataclass(frozen=True)
class Presence:
    online: bool
    reason: str | None  # why offline; None when online
    identity: VolumeIdentity | None


def _is_mounted(mount_point: bytes) -> bool:
    return any(e.mount_point == mount_point for e in mount_table())


def check_presence(path: bytes, mount_point: bytes, fs_uuid: str | None) -> Presence:
    """Is the source at path present, on the volume it was added from?"""
    shown = os.fsdecode(path)
    if mount_point != b"/" and not _is_mounted(mount_point):
        return Presence(False, f"the drive mounted at {os.fsdecode(mount_point)} is not mounted", None)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Presence(False, f"{shown} does not exist", None)
    except OSError as exc:
        return Presence(False, f"{shown}: {exc.strerror}", None)
    if not stat.S_ISDIR(st.st_mode):
        return Presence(False, f"{shown} is not a folder", None)
    if not os.access(path, os.R_OK | os.X_OK):
        return Presence(False, f"{shown} is not readable", None)
    ident = identify(path)
    if mount_point != b"/" and ident.mount_point != mount_point:
        return Presence(False, f"the drive mounted at {os.fsdecode(mount_point)} is not mounted", ident)
    if fs_uuid and ident.fs_uuid and ident.fs_uuid != fs_uuid:
        return Presence(False, f"another volume ({ident.fs_uuid}) is mounted instead of {fs_uuid}", ident)
    return Presence(True, None, ident)


def source_presence(db: Database, source: Source, *, allow_empty: bool = False) -> Presence:
    """Whether a source is online now: the one rule behind 'gallerfs sources', 'status' and every scan.

    A source inside a gallerfs mount is never online (its files are the library's own). Besides
    check_presence, a source folder that is suddenly empty while the library has files there is
    treated as unplugged (an empty mount-point folder), unless allow_empty."""
    from gallerfs.db import files as files_db
    from gallerfs.mountguard import gallerfs_mounts

    inside = gallerfs_mounts().containing(os.path.realpath(source.path))
    if inside is not None:  # a source inside a gallerfs mount (an old or hand-edited library) is never read
        shown = os.fsdecode(source.path)
        return Presence(False, f"{shown} is inside the gallerfs mount {os.fsdecode(inside)}", None)
    presence = check_presence(source.path, source.mount_point, source.fs_uuid)
    if presence.online and not allow_empty and files_db.count_files(db, source.id) and is_empty_dir(source.path):
        return replace(presence, online=False, reason=(
            f"{os.fsdecode(source.path)} is empty although the library has files there: treated as unplugged "
            "(use 'gallerfs rescan --allow-empty' if they were really deleted)"
        ))  # fmt: skip
    return presence


def is_empty_dir(path: bytes) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except OSError:
        return False
