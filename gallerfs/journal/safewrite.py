"""Writing a template without ever losing what an editor wrote.

gallerfs writes an entry only when the file does not exist or is empty, and
only through a temporary file in the same folder that is then moved into place:

1. ``lstat`` the target: go on only if it is missing, or a regular empty file.
2. Write the text to a hidden temp file beside it and ``fsync`` it.
3. Missing target: ``link`` the temp file to the target name, which fails
   if anything appeared there meanwhile (or ``renameat2(RENAME_NOREPLACE)``
   where hard links are not supported). Existing empty target: ``lstat`` it
   again and ``rename`` over it only if inode, size (still 0) and mtime are
   exactly what step 1 saw; otherwise an editor wrote, and gallerfs backs off.

The window left is between the second ``lstat`` and the ``rename`` (a few
microseconds), and only for a writer that already held the empty file open
and writes into it in that instant; a writer that saves by path (every editor,
including the save-to-temp-and-rename ones) simply replaces the template.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def _before_commit(path: Path) -> None:
    """Called after the temp file is written and before the target is checked again.

    It does nothing; tests replace it to act as an editor writing at the worst moment.
    """


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _rename_noreplace(src: Path, dst: Path) -> bool:
    """renameat2(RENAME_NOREPLACE); False if dst exists. Raises OSError where unsupported."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    rc = fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        return False
    raise OSError(err, os.strerror(err), str(dst))


def _place_new(tmp: Path, path: Path) -> bool:
    """Put tmp at path only if nothing is there; True when placed."""
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV, errno.EMLINK):
            raise
    try:
        return _rename_noreplace(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    # Last resort (filesystems with neither): a check immediately before the rename.
    if _lstat(path) is not None:
        return False
    os.replace(tmp, path)
    return True


def write_if_empty(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` if it is missing or empty and nobody writes it meanwhile.

    Returns True when the text was written, False when the file has (or got) content
    or is not a regular file; it is then left exactly as it was.
    """
    path = Path(path)
    before = _lstat(path)
    if before is not None and (not stat.S_ISREG(before.st_mode) or before.st_size != 0):
        return False
    data = text.encode("utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gallerfs-tmp", dir=path.parent)
    tmp = Path(tmp_name)
    placed = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.fchmod(fh.fileno(), stat.S_IMODE(before.st_mode) if before is not None else 0o644)
        _before_commit(path)
        if before is None:
            placed = _place_new(tmp, path)
        else:
            now = _lstat(path)
            if now is not None and _stamp(now) == _stamp(before):
                os.replace(tmp, path)
                placed = True
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    if placed:
        _fsync_dir(path.parent)
        log.info("wrote the journal template %s", path)
    else:
        log.info("left %s alone: it was written meanwhile", path)
    return placed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
