"""Writing a template without ever losing what an editor wrote.

gallerfs writes an entry only when the file does not exist or is empty, and
only through a temporary file in the same folder that is then moved into place:

1. ``lstat`` the target: go on only if it is missing, or a regular empty file.
2. Write the text to a hidden temp file beside it and ``fsync`` it.
3. Missing target: ``link`` the temp file to the target name, which fails
   if anything appeared there meanwhile (or ``renameat2(RENAME_NOREPLACE)``
   where hard links are not supported).
4. Existing empty target: ``lstat`` it again and go on only if inode, size
   (still 0) and mtime are exactly what step 1 saw, and no one has it open for
   writing (probed with a read lease, which the kernel refuses while any
   descriptor is open for writing). Then swap the two atomically
   (``renameat2(RENAME_EXCHANGE)``) and check the old empty file once more, now
   under the temp name: if it was written or opened for writing meanwhile, swap
   back, so the writer's file is the entry again.

An editor that opens the entry by name after the swap gets the template and
replaces it with its own save; one that opened the old file before the swap
is seen by the lease probe or by its size and mtime. Where leases or
``RENAME_EXCHANGE`` are not supported (FUSE, NFS), the size/mtime re-check
just before the rename is what remains.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import stat
import tempfile
import time
from pathlib import Path

from gallerfs.renameat import RENAME_EXCHANGE as _RENAME_EXCHANGE
from gallerfs.renameat import RENAME_NOREPLACE as _RENAME_NOREPLACE
from gallerfs.renameat import renameat2 as _renameat2  # a module global: tests race it

log = logging.getLogger(__name__)

_F_SETSIG = 10


def _before_commit(path: Path) -> None:
    """Called after the temp file is written and before the target is checked again.

    It does nothing; tests replace it to act as an editor writing at the worst moment.
    """


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _lstat(path: Path | bytes) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _rename_noreplace(src: Path | bytes, dst: Path | bytes) -> bool:
    """renameat2(RENAME_NOREPLACE); False if dst exists. Raises OSError where unsupported."""
    try:
        _renameat2(src, dst, _RENAME_NOREPLACE)
    except FileExistsError:
        return False
    return True


def open_for_writing_elsewhere(path: Path) -> bool | None:
    """Whether another descriptor has the file open for writing (None: cannot tell here).

    A read lease is refused (EAGAIN) while any descriptor is open for writing
    (readers do not matter: they cannot lose an edit); it is released at once. A
    lease break meanwhile signals SIGURG, which is ignored by default, never the
    default SIGIO that would end the process.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except BlockingIOError:
        return True  # someone else holds a lease on it
    except OSError:
        return None
    try:
        fcntl.fcntl(fd, _F_SETSIG, signal.SIGURG)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        return True if exc.errno == errno.EAGAIN else None
    else:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        return False
    finally:
        os.close(fd)


def place_new(tmp: Path | bytes, path: Path | bytes) -> bool:
    """Put tmp at path only if nothing is there; True when placed. tmp may still exist afterwards (a hard
    link was made): the caller removes it. Also what restores a file from the trash (``indexer.trash``)."""
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


def _unchanged(path: Path, before: os.stat_result) -> bool:
    now = _lstat(path)
    return now is not None and _stamp(now) == _stamp(before) and open_for_writing_elsewhere(path) is not True


def _swap_into_empty(tmp: Path, path: Path, before: os.stat_result, size: int) -> bool:
    """Put tmp in place of the empty file at path, unless someone writes that file. True when placed."""
    if not _unchanged(path, before):
        return False
    try:
        _renameat2(tmp, path, _RENAME_EXCHANGE)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        os.replace(tmp, path)  # no RENAME_EXCHANGE here: the re-check above is all there is
        return True
    # tmp now names the old empty file, path the template.
    if _unchanged(tmp, before):
        return True
    placed = _lstat(path)
    _renameat2(tmp, path, _RENAME_EXCHANGE)  # the writer's file is the entry again
    back = _lstat(tmp)
    if placed is not None and back is not None and (_stamp(back) != _stamp(placed) or back.st_size != size):
        # The template was edited in the instant it was in place: keep that too, beside the entry.
        keep = path.with_name(f"{path.stem}.conflict-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        os.replace(tmp, keep)
        log.warning("%s was written twice at once; the other version is kept as %s", path, keep)
    return False


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
            placed = place_new(tmp, path)
        else:
            placed = _swap_into_empty(tmp, path, before, len(data))
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
