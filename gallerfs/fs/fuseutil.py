"""What every part of the Operations class shares: error mapping, kernel timeouts, listings."""

from __future__ import annotations

import errno
import functools
import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, ParamSpec, TypeVar

import apsw
import pyfuse3

from gallerfs.errors import LibraryBusyError
from gallerfs.fs.nodes import Attr, Node

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
LIBRARY_TIMEOUT = 300.0  # s; changes are pushed to the kernel explicitly
VOLATILE_TIMEOUT = 1.0  # s; journal (may change behind our back) and status files
POLL_INTERVAL = 1.0  # s between checks of library_state.generation
WRITE_WAIT_MS = 5000  # how long a write through the mount waits for another process's write lock


def fuse_errors(fn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """OSError -> FUSEError(errno); the library's write lock held elsewhere -> EBUSY (logged);
    anything unexpected is logged and becomes EIO."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except pyfuse3.FUSEError:
            raise
        except OSError as exc:
            raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
        except (LibraryBusyError, apsw.BusyError) as exc:
            log.warning("%s refused with EBUSY: %s", fn.__name__, exc)
            raise pyfuse3.FUSEError(errno.EBUSY) from None
        except Exception:
            log.exception("%s failed", fn.__name__)
            raise pyfuse3.FUSEError(errno.EIO) from None

    return wrapper


@dataclass
class Listing:
    """A directory's entries as sent to the kernel; immutable once built."""

    names: list[bytes]
    inos: list[int]
    attrs: list[pyfuse3.EntryAttributes]
    index: dict[bytes, int]
    nodes: list[Node] = field(default_factory=list)  # the entries' nodes, for counting the kernel's references


def entry_attrs(ino: int, attr: Attr, uid: int, gid: int, timeout: float = LIBRARY_TIMEOUT) -> pyfuse3.EntryAttributes:
    e = pyfuse3.EntryAttributes()
    e.st_ino = ino
    e.st_mode = attr.mode
    e.st_nlink = attr.nlink
    e.st_uid = uid
    e.st_gid = gid
    e.st_size = attr.size
    e.st_blksize = 131072
    e.st_blocks = (attr.size + 511) // 512
    e.st_atime_ns = attr.mtime_ns
    e.st_mtime_ns = attr.mtime_ns
    e.st_ctime_ns = attr.ctime_ns
    e.entry_timeout = timeout
    e.attr_timeout = timeout
    return e


def stat_attrs(ino: int, st: os.stat_result, timeout: float = VOLATILE_TIMEOUT) -> pyfuse3.EntryAttributes:
    """Attributes of a real file (journal/), short-lived: it may change behind the mount's back."""
    e = pyfuse3.EntryAttributes()
    for name in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_atime_ns", "st_mtime_ns", "st_ctime_ns"):
        setattr(e, name, getattr(st, name))
    e.st_ino = ino
    e.st_blksize = st.st_blksize
    e.st_blocks = st.st_blocks
    e.entry_timeout = timeout
    e.attr_timeout = timeout
    return e


def unchanged(current: pyfuse3.EntryAttributes, attr: pyfuse3.EntryAttributes, fields: pyfuse3.SetattrFields) -> bool:
    """Whether a setattr asks for exactly what is already there (mode, owner, times)."""
    checks: list[tuple[bool, Callable[[], bool]]] = [
        (fields.update_mode, lambda: attr.st_mode & 0o7777 == current.st_mode & 0o7777),
        (fields.update_uid, lambda: attr.st_uid == current.st_uid),
        (fields.update_gid, lambda: attr.st_gid == current.st_gid),
        (fields.update_mtime, lambda: attr.st_mtime_ns == current.st_mtime_ns),
        (fields.update_atime, lambda: attr.st_atime_ns in (current.st_atime_ns, current.st_mtime_ns)),
    ]
    return all(check() for wanted, check in checks if wanted)
