"""``renameat2(2)``: rename with ``RENAME_NOREPLACE`` or ``RENAME_EXCHANGE``, atomically.

The one wrapper of the code base: the mount's journal passthrough forwards the
flags a program asked for, and ``gallerfs.journal.safewrite`` places templates
without clobbering an editor's file.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading
from typing import Any

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_AT_FDCWD = -100

_lock = threading.Lock()
_libc: list[Any] = []  # the C library's renameat2, or None where it has none (loaded once, on first use)


def _function() -> Any:
    with _lock:
        if not _libc:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            _libc.append(getattr(libc, "renameat2", None))
        return _libc[0]


def renameat2(src: str | bytes | os.PathLike[str] | os.PathLike[bytes], dst: str | bytes | os.PathLike[str] | os.PathLike[bytes],
              flags: int) -> None:  # fmt: skip
    """Rename *src* to *dst* with *flags* (0: a plain ``rename``).

    Raises ``OSError`` with the call's errno: ``EEXIST`` for ``RENAME_NOREPLACE``
    onto an existing name, ``EINVAL``/``ENOSYS`` where the filesystem or the C
    library does not support the flags.
    """
    if not flags:
        os.rename(src, dst)
        return
    fn = _function()
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if fn(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), ctypes.c_uint(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), os.fsdecode(src), None, os.fsdecode(dst))
