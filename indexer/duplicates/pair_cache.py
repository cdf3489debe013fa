"""The near pass's candidate pairs, remembered between runs in the library folder.

Finding the perceptual-hash neighbours of 100,000 photos takes seconds
(multi-index hashing over both 64-bit hashes), every time duplicates are
listed, though the answer depends only on the files' ids, their hashes and the
distance. The cache file holds a digest of exactly those inputs next to the
pairs: a run whose inputs differ in any bit (a new, removed or re-hashed file,
another distance, a new version of the pairing rule) computes the pairs afresh
and replaces the file, so a stale answer is never used. The pixel check and
CLIP still judge every pair on each run (their verdicts have their own cache).

A cache that cannot be read is recomputed; one that cannot be written (a
read-only library) is skipped: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gallerfs.indexer.duplicates.near import HashedFile

log = logging.getLogger(__name__)

VERSION = 1  # bump when candidate_pairs changes what it returns for the same inputs
FILE_NAME = "near-pairs.npz"

Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]


def inputs_digest(files: Sequence[HashedFile], max_distance: int) -> bytes:
    """sha256 of everything the candidate pairs depend on, in order."""
    n = len(files)
    ids = np.fromiter((f.id for f in files), dtype=np.int64, count=n)
    phash = np.fromiter((f.phash for f in files), dtype=np.int64, count=n)
    dhash = np.fromiter((0 if f.dhash is None else f.dhash for f in files), dtype=np.int64, count=n)
    has_d = np.fromiter((f.dhash is not None for f in files), dtype=np.bool_, count=n)
    digest = hashlib.sha256(f"near-pairs v{VERSION} d{max_distance} n{n}\0".encode())
    for part in (ids, phash, dhash, has_d):
        digest.update(part.tobytes())
    return digest.digest()


def cached_pairs(
    folder: Path, files: Sequence[HashedFile], max_distance: int, compute: Callable[[], Pairs]
) -> Pairs:
    """compute() unless folder's cache holds the pairs of exactly these inputs; the result is remembered."""
    path = folder / FILE_NAME
    key = inputs_digest(files, max_distance)
    found = _load(path, key)
    if found is not None:
        return found
    pairs = compute()
    _save(path, key, pairs)
    return pairs


def _load(path: Path, key: bytes) -> Pairs | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            if data["key"].tobytes() != key:
                return None
            ii, jj, dist = data["ii"], data["jj"], data["dist"]
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001  (a damaged or foreign file: recompute)
        log.info("ignoring the near-duplicate pair cache %s: %s", path, exc)
        return None
    if not (len(ii) == len(jj) == len(dist)) or any(a.dtype != np.int64 for a in (ii, jj, dist)):
        log.info("ignoring the near-duplicate pair cache %s: malformed", path)
        return None
    return ii, jj, dist


def _save(path: Path, key: bytes, pairs: Pairs) -> None:
    ii, jj, dist = (np.asarray(a, dtype=np.int64) for a in pairs)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".near-pairs-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, key=np.frombuffer(key, dtype=np.uint8), ii=ii, jj=jj, dist=dist)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.debug("near-duplicate pairs not cached in %s: %s", path.parent, exc)
