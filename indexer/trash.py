"""The freedesktop.org trash (Trash spec 1.0), on the file's own device.

send2trash implements the same spec but does not say where a file went; the
library records the trash path and checks the ``.trashinfo``, so the few
steps are done here:

- a file on the same device as ``$XDG_DATA_HOME`` goes to ``$XDG_DATA_HOME/Trash``;
- otherwise to ``$topdir/.Trash/$uid`` when ``$topdir/.Trash`` is a real,
  sticky directory, else to ``$topdir/.Trash-$uid`` (created 0700), where
  ``$topdir`` is the mount point of the file's filesystem. Nothing is copied
  across devices: the file is renamed, never rewritten.
- ``info/NAME.trashinfo`` is created first with O_EXCL (that reserves NAME),
  then the file is renamed to ``files/NAME``; if the rename fails the info file
  is removed again.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class TrashError(OSError):
    pass


@dataclass(frozen=True)
class Trashed:
    original: bytes  # absolute path the file had
    trash_path: bytes  # …/files/NAME
    trashinfo_path: bytes  # …/info/NAME.trashinfo
    trash_dir: bytes  # the trash directory used (…/Trash or $topdir/.Trash-$uid)


def _data_home() -> bytes:
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg and os.path.isabs(xdg):
        return os.fsencode(xdg)
    return os.fsencode(os.path.join(os.path.expanduser("~"), ".local", "share"))


def mount_point_of(path: bytes) -> bytes:
    """The top directory of the filesystem holding path."""
    path = os.path.realpath(path)
    dev = os.lstat(path).st_dev
    while path != b"/":
        parent = os.path.dirname(path)
        if os.lstat(parent).st_dev != dev:
            return path
        path = parent
    return b"/"


def _ensure_private_dir(path: bytes) -> None:
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise TrashError(
                errno.EPERM,
                f"{os.fsdecode(path)} is not a trash folder owned by this user",
            ) from None


def trash_dir_for(path: bytes) -> tuple[bytes, bytes | None]:
    """(trash directory, topdir or None for the home trash) for a file at path."""
    dev = os.lstat(path).st_dev
    home = _data_home()
    os.makedirs(home, exist_ok=True)
    if os.stat(home).st_dev == dev:
        return os.path.join(home, b"Trash"), None
    top = mount_point_of(path)
    shared = os.path.join(top, b".Trash")
    try:
        st = os.lstat(shared)
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
            return os.path.join(shared, str(os.getuid()).encode()), top
        log.warning(
            "ignoring %s: not a sticky directory (Trash spec)", os.fsdecode(shared)
        )
    except FileNotFoundError:
        pass
    return os.path.join(top, b".Trash-" + str(os.getuid()).encode()), top


def _info_text(original: bytes, top: bytes | None, when: float) -> bytes:
    shown = os.path.relpath(original, top) if top is not None else original
    quoted = urllib.parse.quote(shown, safe="/")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))
    return f"[Trash Info]\nPath={quoted}\nDeletionDate={stamp}\n".encode("ascii")


def trash(path: bytes | str) -> Trashed:
    """Move one file to the trash of its own device; returns where it went."""
    original = os.path.abspath(os.fsencode(path))
    st = os.lstat(original)
    if not stat.S_ISREG(st.st_mode):
        raise TrashError(errno.EINVAL, f"{os.fsdecode(original)} is not a regular file")
    trash_dir, top = trash_dir_for(original)
    os.makedirs(os.path.dirname(trash_dir), exist_ok=True)
    _ensure_private_dir(trash_dir)
    files_dir, info_dir = (
        os.path.join(trash_dir, b"files"),
        os.path.join(trash_dir, b"info"),
    )
    _ensure_private_dir(files_dir)
    _ensure_private_dir(info_dir)
    base = os.path.basename(original)
    stem, ext = os.path.splitext(base)
    # Relative to $topdir, the path must be the real one (the folders may be reached through symlinks).
    real = os.path.join(os.path.realpath(os.path.dirname(original)), base)
    text = _info_text(real if top is not None else original, top, time.time())
    for n in range(1, 10_000):
        name = base if n == 1 else stem + b" " + str(n).encode() + ext
        info_path = os.path.join(info_dir, name + b".trashinfo")
        target = os.path.join(files_dir, name)
        if os.path.lexists(target):
            continue
        try:
            fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        try:
            os.write(fd, text)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(original, target)
        except OSError:
            os.unlink(info_path)
            raise
        log.info("trashed %s to %s", os.fsdecode(original), os.fsdecode(target))
        return Trashed(original, target, info_path, trash_dir)
    raise TrashError(errno.EEXIST, f"no free name in {os.fsdecode(files_dir)}")


def read_trashinfo(info_path: bytes | str) -> tuple[bytes, str]:
    """(original absolute path, deletion date) from a .trashinfo file."""
    info_path = os.fsencode(info_path)
    lines = Path(os.fsdecode(info_path)).read_text("ascii").splitlines()
    if not lines or lines[0].strip() != "[Trash Info]":
        raise TrashError(
            errno.EINVAL, f"{os.fsdecode(info_path)}: not a trash info file"
        )
    fields = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    shown = urllib.parse.unquote_to_bytes(fields["Path"])
    if not os.path.isabs(shown):
        # In $topdir/.Trash-$uid/info or $topdir/.Trash/$uid/info the path is relative to $topdir.
        trash_dir = os.path.dirname(os.path.dirname(info_path))
        top = os.path.dirname(trash_dir)
        if os.path.basename(top) == b".Trash":
            top = os.path.dirname(top)
        shown = os.path.join(top, shown)
    return shown, fields["DeletionDate"]


def verify(trashed: Trashed) -> None:
    """Check that the file lies in the trash and its .trashinfo names where it came from."""
    if not os.path.lexists(trashed.trash_path):
        raise TrashError(
            errno.ENOENT, f"{os.fsdecode(trashed.trash_path)} is missing after trashing"
        )
    original, _ = read_trashinfo(trashed.trashinfo_path)
    if _real(original) != _real(trashed.original):
        raise TrashError(
            errno.EIO,
            f"{os.fsdecode(trashed.trashinfo_path)} names {os.fsdecode(original)}",
        )


def _real(path: bytes) -> bytes:
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def restore(trash_path: bytes, trashinfo_path: bytes, original: bytes) -> None:
    """Move a trashed file back to ``original`` and drop its ``.trashinfo``; never over anything.

    The move is a hard link then an unlink (or ``renameat2(RENAME_NOREPLACE)`` where links are not
    supported), so a file that appears at ``original`` meanwhile is never replaced: that fails with
    EEXIST and the trash is left as it was. Missing parent folders are created again.
    """
    from gallerfs.journal.safewrite import place_new

    if not os.path.lexists(trash_path):
        raise TrashError(errno.ENOENT, f"{os.fsdecode(trash_path)} is no longer in the trash")
    os.makedirs(os.path.dirname(original), exist_ok=True)
    if not place_new(trash_path, original):
        raise TrashError(errno.EEXIST, f"{os.fsdecode(original)} exists; nothing was replaced")
    if os.path.lexists(trash_path) and os.path.samefile(trash_path, original):
        os.unlink(trash_path)
    try:
        os.unlink(trashinfo_path)
    except FileNotFoundError:
        pass
    log.info("restored %s from %s", os.fsdecode(original), os.fsdecode(trash_path))
