"""Exact duplicates: same size, then same partial hash, then same full hash.

Only files whose size is shared with another file are looked at (the query
does that), and bytes are read only where the index has no hash yet:

1. group candidates by size;
2. in a size group where some member lacks a full hash, give every online
   member lacking one a partial hash (first and last 64 KiB; files up to
   128 KiB are read whole, which also gives their full hash);
3. members whose (size, partial hash) is shared get their full hash;
4. group by full hash.

Hashes computed here are written back to the index. A file on an offline
source counts with the hashes the index holds; without them it cannot be
compared and is reported as unverified.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from indexer.hashing import PARTIAL, file_hashes

log = logging.getLogger(__name__)


@dataclass
class HashStats:
    """What the exact pass read: for the benchmark and for --json."""

    candidates: int = 0  # files whose size is shared
    partial_hashed: int = 0
    full_hashed: int = 0
    bytes_read: int = 0
    unverified: list[int] = field(
        default_factory=list
    )  # offline or unreadable, no hash in the index
    errors: list[str] = field(default_factory=list)


def partial_hash(path: bytes | str, size: int) -> tuple[str, str | None, int]:
    """(partial hash, full hash or None, bytes read), in the format of ``indexer.hashing.file_hashes``."""
    if size <= 2 * PARTIAL:
        full, partial = file_hashes(path)
        return partial, full, size
    with open(path, "rb", buffering=0) as fh:
        actual = os.fstat(fh.fileno()).st_size
        if actual != size:
            raise OSError(f"size changed from {size} to {actual} since it was indexed")
        head = fh.read(PARTIAL)
        fh.seek(actual - PARTIAL)
        tail = fh.read(PARTIAL)
    digest = hashlib.sha256()
    digest.update(str(actual).encode() + b"\0")
    digest.update(head)
    digest.update(tail)
    return digest.hexdigest(), None, len(head) + len(tail)


def full_hash(path: bytes | str, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as fh:
        if os.fstat(fh.fileno()).st_size != size:
            raise OSError("size changed since it was indexed")
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ExactSet:
    content_hash: str
    size: int
    members: tuple[DupFile, ...]

    @property
    def reclaimable(self) -> int:
        """Bytes freed by keeping one copy (copies sharing an inode count once)."""
        distinct = {(m.device, m.inode) for m in self.members}
        return self.size * (len(distinct) - 1)


def _group_hashes(
    files: list[DupFile], stats: HashStats
) -> tuple[dict[int, str], list[tuple[int, int, str | None, str | None]]]:
    """Full hash per file id for one size group, computing only what is missing."""
    full: dict[int, str] = {f.id: f.content_hash for f in files if f.content_hash}
    writes: list[tuple[int, int, str | None, str | None]] = []
    if len(full) == len(files):
        return full, writes
    partial: dict[int, str] = {f.id: f.partial_hash for f in files if f.partial_hash}
    missing = [f for f in files if f.id not in full]
    for f in missing:
        if f.id in partial:
            continue
        if not f.online:
            stats.unverified.append(f.id)
            continue
        try:
            p, whole, nread = partial_hash(f.path, f.size)
        except OSError as exc:
            stats.errors.append(f"{os.fsdecode(f.path)}: {exc.strerror or exc}")
            stats.unverified.append(f.id)
            continue
        stats.partial_hashed += 1
        stats.bytes_read += nread
        partial[f.id] = p
        if whole:
            full[f.id] = whole
        writes.append((f.id, f.size, p, whole))
    # Which partial hashes are shared, counting files known only by their full hash as unknown partials:
    # a file with a full hash but no partial one can only match by full hash, so hash fully around it.
    by_partial: dict[str, int] = defaultdict(int)
    for p in partial.values():
        by_partial[p] += 1
    full_only = any(f.id in full and f.id not in partial for f in files)
    for f in missing:
        if f.id in full or f.id not in partial:
            continue
        if by_partial[partial[f.id]] < 2 and not full_only:
            continue
        if not f.online:
            stats.unverified.append(f.id)
            continue
        try:
            full[f.id] = full_hash(f.path, f.size)
        except OSError as exc:
            stats.errors.append(f"{os.fsdecode(f.path)}: {exc.strerror or exc}")
            stats.unverified.append(f.id)
            continue
        stats.full_hashed += 1
        stats.bytes_read += f.size
        writes.append((f.id, f.size, partial[f.id], full[f.id]))
    return full, writes


def group_exact(
    files: Iterable[DupFile], stats: HashStats | None = None
) -> tuple[list[ExactSet], list[tuple[int, int, str | None, str | None]]]:
    """Exact sets among files (any order); also the hashes that were computed, to write back."""
    stats = stats if stats is not None else HashStats()
    by_size: dict[int, list[DupFile]] = defaultdict(list)
    for f in files:
        if f.size > 0:
            by_size[f.size].append(f)
    sets: list[ExactSet] = []
    writes: list[tuple[int, int, str | None, str | None]] = []
    for size, group in by_size.items():
        if len(group) < 2:
            continue
        stats.candidates += len(group)
        hashes, new = _group_hashes(group, stats)
        writes.extend(new)
        by_hash: dict[str, list[DupFile]] = defaultdict(list)
        for f in group:
            if f.id in hashes:
                by_hash[hashes[f.id]].append(f)
        for digest, members in by_hash.items():
            if len(members) > 1:
                sets.append(
                    ExactSet(digest, size, tuple(sorted(members, key=lambda m: m.id)))
                )
    sets.sort(key=lambda s: (-s.reclaimable, s.content_hash))
    return sets, writes


def find_exact(
    db: Database, stats: HashStats | None = None, *, write_back: bool = True
) -> list[ExactSet]:
    """Every exact-duplicate set in the library, largest reclaimable space first.

    With write_back, hashes computed here are stored (db must then be a writer).
    """
    stats = stats if stats is not None else HashStats()
    candidates = dupdb.files_sharing_size(db)
    sets, writes = group_exact(candidates, stats)
    if writes and write_back and not db.readonly:
        dupdb.store_hashes(db, writes)
    if writes:
        by_id = {w[0]: w for w in writes}
        sets = [_with_hashes(s, by_id) for s in sets]
    for err in stats.errors:
        log.warning("could not hash %s", err)
    return sets


def _with_hashes(
    s: ExactSet, by_id: dict[int, tuple[int, int, str | None, str | None]]
) -> ExactSet:
    members = []
    for m in s.members:
        w = by_id.get(m.id)
        if w:
            m = replace(
                m,
                partial_hash=m.partial_hash or w[2],
                content_hash=m.content_hash or w[3] or s.content_hash,
            )
        members.append(m)
    return ExactSet(s.content_hash, s.size, tuple(members))
