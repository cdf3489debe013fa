"""The library's vectors on disk, float32 and int8, memory-mapped: a search needs no read of SQLite.

Reading 1M vectors out of SQLite takes seconds; mapping this file takes milliseconds, so a
one-shot ``gallerfs search`` and a freshly started mount search at once. The file is named by
nothing but its place (``<library>/cache/vectors.bin``); its header records the embeddings
version (``embeddings_db.version``: model, space creation time, change counter) of the vectors
it holds, and a reader uses it only when that equals the library's version now — after any
change it is ignored until rewritten, so it never serves stale vectors. It is written whole to a
temporary file, synced, and renamed over the old one: readers see the old file or the new one,
never a part, and a process that still maps the old one keeps reading it unchanged.

Layout: 16-byte magic, 8-byte header length, JSON header, then each array at a 4 KiB boundary
(ids int64 [n], matrix float32 [n, dim], the int8 codes [dim, n] and their per-vector numbers,
see ``quantised``). Delete the file at any time; the next search or load writes it again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gallerfs.search import quantised

log = logging.getLogger(__name__)

MAGIC = b"GALLERFS-VECS-1\n"
FILE_NAME = "vectors.bin"
CACHE_DIR = "cache"  # the library's cache folder, as the duplicate pair cache uses
ABANDONED_S = 3600  # a temporary file this old belongs to no live writer
_ALIGN = 4096
_HEADER_MAX = _ALIGN - len(MAGIC) - 8
_ARRAYS = (  # name, dtype, shape in terms of n and dim
    ("ids", "<i8", ("n",)),
    ("scales", "<f4", ("n",)),
    ("colsum", "<i4", ("n",)),
    ("resid", "<f4", ("n",)),
    ("wnorm", "<f4", ("n",)),
    ("codes_t", "i1", ("dim", "n")),
    ("matrix", "<f4", ("n", "dim")),
)


@dataclass(frozen=True)
class Stored:
    version: tuple[Any, ...]
    ids: np.ndarray
    matrix: np.ndarray  # [n, dim] float32
    codes: quantised.Codes


def path_for(db_path: Path) -> Path:
    """The cache file of the library whose SQLite file is ``db_path`` (the library directory's cache/)."""
    return Path(db_path).parent / CACHE_DIR / FILE_NAME


def _layout(n: int, dim: int) -> dict[str, tuple[int, str, tuple[int, ...]]]:
    sizes = {"n": n, "dim": dim}
    offset = _ALIGN
    out = {}
    for name, dtype, dims in _ARRAYS:
        shape = tuple(sizes[d] for d in dims)
        out[name] = (offset, dtype, shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        offset += -(-nbytes // _ALIGN) * _ALIGN
    out["_end"] = (offset, "", ())
    return out


def read(path: Path, version: tuple[Any, ...]) -> Stored | None:
    """The vectors in the file when it holds exactly ``version``; None when it is missing, stale or damaged."""
    try:
        with open(path, "rb") as f:
            head = f.read(_ALIGN)
            if head[: len(MAGIC)] != MAGIC:
                return None
            length = int.from_bytes(head[len(MAGIC) : len(MAGIC) + 8], "little")
            if not 0 < length <= _HEADER_MAX:
                return None
            header = json.loads(head[len(MAGIC) + 8 : len(MAGIC) + 8 + length])
            if tuple(header["version"]) != tuple(version):
                return None
            n, dim = int(header["n"]), int(header["dim"])
            layout = _layout(n, dim)
            if os.fstat(f.fileno()).st_size < layout["_end"][0]:
                log.warning("vector cache %s is truncated; ignored", path)
                return None
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("vector cache %s unreadable (%s); ignored", path, exc)
        return None
    matrix_at = layout["matrix"][0]
    if n:  # re-ranking reads scattered rows of the matrix: no readahead around them when the file is cold
        with contextlib.suppress(AttributeError, OSError, ValueError):
            mapped.madvise(mmap.MADV_RANDOM, matrix_at, layout["_end"][0] - matrix_at)
    arrays = {}
    for name, (offset, dtype, shape) in layout.items():
        if name != "_end":
            count = int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape)
    codes = quantised.Codes(arrays["codes_t"], arrays["scales"], arrays["colsum"], arrays["resid"], arrays["wnorm"])
    return Stored(tuple(version), arrays["ids"], arrays["matrix"], codes)


def write(path: Path, version: tuple[Any, ...], ids: np.ndarray, matrix: np.ndarray) -> None:
    """Replace the file with these vectors (raises OSError when the cache folder cannot be written)."""
    n, dim = (int(matrix.shape[0]), int(matrix.shape[1])) if matrix.ndim == 2 else (0, 0)
    header = json.dumps({"version": list(version), "n": n, "dim": dim}).encode()
    if len(header) > _HEADER_MAX:
        raise OSError("the vector cache header is too long")
    layout = _layout(n, dim)
    codes = quantised.quantise_all(matrix) if n else None
    arrays = {"ids": ids, "matrix": matrix}
    if codes is not None:
        arrays.update(codes_t=codes.codes_t, scales=codes.scales, colsum=codes.colsum, resid=codes.resid,
                      wnorm=codes.wnorm)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for name, (offset, dtype, shape) in layout.items():
                if name == "_end" or n == 0:
                    continue
                data = np.ascontiguousarray(arrays[name], dtype=dtype).reshape(shape)
                f.seek(offset)
                f.write(memoryview(data).cast("B"))
            f.truncate(layout["_end"][0])
            f.flush()
            os.fsync(f.fileno())  # a file renamed into place after a crash must not hold zeros
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_abandoned(folder: Path) -> None:
    """Temporary files of writers killed mid-write (gigabytes at 1M vectors); a live writer's file is
    younger, as writing it keeps its modification time fresh."""
    cutoff = time.time() - ABANDONED_S
    for stale in folder.glob(".vectors-*.tmp"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < cutoff:
                stale.unlink()
                log.info("removed an abandoned vector cache file %s", stale)
