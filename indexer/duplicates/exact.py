"""Exact duplicates: same size, then same first bytes, then same partial hash, then same full hash.

Only files whose size is shared with another file are looked at (the query
does that), and bytes are read only where the index has no hash yet:

1. group candidates by size; a group whose members all have a full hash in
   the index is settled without reading anything;
2. in a size group where no member has a hash yet, read the first 4 KiB of
   each online member: a file whose first bytes no other member shares has no
   copy (nothing is stored for it; the next run reads those 4 KiB again until
   phase 2 hashes it);
3. every online member still lacking a hash gets a partial hash (first and
   last 64 KiB); files up to 128 KiB are read whole instead and get their full
   hash (their partial hash would cost as much again, so it is left to phase 2);
4. members whose (size, partial hash) is shared get their full hash;
5. group by full hash.

Reads run on a few threads (the hashing releases the GIL): a cold disk serves
many small reads at once far faster than one after another.

Hashes computed here are written back to the index, but only for a file whose
size and modification time are still those the index holds (a file that
changed since it was indexed counts with what it holds now, and phase 1 will
redo it). A file on an offline source counts with the hashes the index holds;
without them it cannot be compared and is reported as unverified.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile, HashUpdate
from gallerfs.indexer.content_hash import CHUNK, PARTIAL, partial_digest

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

HEAD = 4096  # bytes compared before any hash in a size group nobody has hashed
READ_THREADS = 16  # concurrent reads: enough to keep a cold SSD or a network share busy
_PARALLEL_FROM = 8  # fewer files than this are read on the calling thread


@dataclass
class HashStats:
    """What the exact pass read: for the benchmark and for --json."""

    candidates: int = 0  # files whose size is shared
    heads_read: int = 0  # files whose first bytes were compared
    partial_hashed: int = 0
    full_hashed: int = 0
    bytes_read: int = 0
    unverified: list[int] = field(
        default_factory=list
    )  # offline or unreadable, no hash in the index
    errors: list[str] = field(default_factory=list)


def _open_checked(path: bytes | str, size: int) -> tuple[io.FileIO, int]:
    """The file open for reading, and its mtime_ns; OSError when its size is no longer ``size``."""
    fh = io.FileIO(path, "r")
    st = os.fstat(fh.fileno())
    if st.st_size != size:
        fh.close()
        raise OSError(f"size changed from {size} to {st.st_size} since it was indexed")
    return fh, st.st_mtime_ns


def _partial(path: bytes | str, size: int) -> tuple[str | None, str | None, int, int]:
    """(partial hash, full hash, bytes read, mtime_ns) for the second stage of the pass.

    A file of at most 128 KiB is read whole, once: its full hash decides at the same cost, so its
    partial hash (which would hash up to 128 KiB more) is left to phase 2 and comes back as None.
    Larger files get their partial hash and no full hash.
    """
    fh, mtime_ns = _open_checked(path, size)
    with fh:
        if size <= 2 * PARTIAL:
            data = fh.read()
            if len(data) != size:
                raise OSError(f"size changed from {size} to {len(data)} while it was read")
            return None, hashlib.sha256(data).hexdigest(), size, mtime_ns
        partial, nread = _ends(fh, size)
    return partial, None, nread, mtime_ns


def _ends(fh: io.FileIO, size: int) -> tuple[str, int]:
    """(partial hash, bytes read) of an open file of more than 128 KiB."""
    head = fh.read(PARTIAL)
    tail = os.pread(fh.fileno(), PARTIAL, size - PARTIAL)
    return partial_digest(size, head, tail), len(head) + len(tail)


def _full(path: bytes | str, size: int) -> tuple[str, int]:
    """(full hash, mtime_ns)."""
    digest = hashlib.sha256()
    fh, mtime_ns = _open_checked(path, size)
    with fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), mtime_ns


def _head(path: bytes | str, size: int) -> tuple[bytes, int]:
    """(the first HEAD bytes, mtime_ns)."""
    fh, mtime_ns = _open_checked(path, size)
    with fh:
        return os.pread(fh.fileno(), HEAD, 0), mtime_ns


def partial_hash(path: bytes | str, size: int) -> tuple[str, str | None, int]:
    """(partial hash, full hash or None, bytes read), in the format of ``indexer.content_hash.file_hashes``."""
    fh, _ = _open_checked(path, size)
    with fh:
        if size > 2 * PARTIAL:
            partial, nread = _ends(fh, size)
            return partial, None, nread
        data = fh.read()
    tail = data[-PARTIAL:] if size > PARTIAL else b""
    return partial_digest(size, data[:PARTIAL], tail), hashlib.sha256(data).hexdigest(), len(data)


def full_hash(path: bytes | str, size: int) -> str:
    """sha256 of the whole file; OSError when its size is no longer ``size``."""
    return _full(path, size)[0]


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


T = TypeVar("T")


class _Readers:
    """The threads that read candidates, started once for the whole pass (its three stages share them):
    starting a thread waits for it to run, which on a busy machine costs more than a warm read."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    def read_all(self, files: Sequence[DupFile], read: Callable[[DupFile], T]) -> list[T | OSError]:
        """read(f) for every file, in the order given; an OSError is returned in place of its result."""

        def one(f: DupFile) -> T | OSError:
            try:
                return read(f)
            except OSError as exc:
                return exc

        if len(files) < _PARALLEL_FROM:
            return [one(f) for f in files]
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="dup-read")
        # Each thread takes every n-th file of the inode order (close to the disk order on most filesystems),
        # so the threads move through the disk together; one task per thread keeps the hand-off cost out.
        order = sorted(range(len(files)), key=lambda k: (files[k].device, files[k].inode))
        n = min(READ_THREADS, len(files))
        out: dict[int, T | OSError] = {}

        def work(share: list[int]) -> None:
            for k in share:
                out[k] = one(files[k])

        for _ in self._pool.map(work, [order[t::n] for t in range(n)]):
            pass
        return [out[k] for k in range(len(files))]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class _Pass:
    """The hashes known and computed for the candidate groups, and what to write back."""

    def __init__(self, stats: HashStats, readers: _Readers) -> None:
        self.stats = stats
        self.readers = readers
        self.full: dict[int, str] = {}
        self.partial: dict[int, str] = {}
        self.writes: list[HashUpdate] = []
        self.unreadable: set[int] = set()

    def failed(self, f: DupFile, exc: OSError) -> None:
        self.stats.errors.append(f"{os.fsdecode(f.path)}: {exc.strerror or exc}")
        self.stats.unverified.append(f.id)
        self.unreadable.add(f.id)

    def store(self, f: DupFile, mtime_ns: int, partial: str | None, full: str | None) -> None:
        if mtime_ns == f.mtime_ns:  # the version the index describes: its hashes may be kept
            self.writes.append(HashUpdate(f.id, f.size, f.mtime_ns, partial, full))


def _heads_unique(groups: list[list[DupFile]], run: _Pass) -> set[int]:
    """Ids of files in unhashed groups whose first bytes no other member of their group shares.

    Every member of these groups is online and has no hash; one that cannot be read is unverified.
    A file of at most HEAD bytes was read whole: it gets its hashes from those bytes.
    """
    wanted = [f for g in groups for f in g]
    heads: dict[int, bytes] = {}
    for f, got in zip(wanted, run.readers.read_all(wanted, lambda f: _head(f.path, f.size))):
        if isinstance(got, OSError):
            run.failed(f, got)
            continue
        head, mtime_ns = got
        run.stats.heads_read += 1
        run.stats.bytes_read += len(head)
        heads[f.id] = head
        if f.size <= HEAD:
            partial = partial_digest(f.size, head, b"")
            run.partial[f.id] = partial
            run.full[f.id] = hashlib.sha256(head).hexdigest()
            run.store(f, mtime_ns, partial, run.full[f.id])
    unique: set[int] = set()
    for g in groups:
        counts: dict[bytes, int] = defaultdict(int)
        for f in g:
            if f.id in heads:
                counts[heads[f.id]] += 1
        unique.update(f.id for f in g if f.id in heads and counts[heads[f.id]] == 1)
    return unique


def _hash_groups(groups: list[list[DupFile]], stats: HashStats) -> _Pass:
    """Full hashes of every member of the size groups that can have a copy, computing only what is missing."""
    readers = _Readers()
    try:
        return _hash_with(groups, _Pass(stats, readers))
    finally:
        readers.close()


def _hash_with(groups: list[list[DupFile]], run: _Pass) -> _Pass:
    stats = run.stats
    for g in groups:
        for f in g:
            if f.content_hash:
                run.full[f.id] = f.content_hash
            if f.partial_hash:
                run.partial[f.id] = f.partial_hash
    open_groups = [g for g in groups if any(f.id not in run.full for f in g)]
    # Groups nobody has hashed, all online: the first bytes can rule members out before any hash.
    fresh = [g for g in open_groups if all(f.online and f.id not in run.partial and f.id not in run.full for f in g)]
    ruled_out = _heads_unique(fresh, run) if fresh else set()

    need_partial = []
    for g in open_groups:
        for f in g:
            if f.id in run.full or f.id in run.partial or f.id in ruled_out or f.id in run.unreadable:
                continue
            if not f.online:
                stats.unverified.append(f.id)
                continue
            need_partial.append(f)
    for f, got in zip(need_partial, run.readers.read_all(need_partial, lambda f: _partial(f.path, f.size))):
        if isinstance(got, OSError):
            run.failed(f, got)
            continue
        p, whole, nread, mtime_ns = got
        stats.partial_hashed += 1
        stats.bytes_read += nread
        if p:
            run.partial[f.id] = p
        if whole:
            run.full[f.id] = whole
        run.store(f, mtime_ns, p, whole)

    # Which partial hashes are shared, counting files known only by their full hash as unknown partials:
    # a file with a full hash but no partial one can only match by full hash, so hash fully around it.
    need_full = []
    for g in open_groups:
        by_partial: dict[str, int] = defaultdict(int)
        for f in g:
            if f.id in run.partial:
                by_partial[run.partial[f.id]] += 1
        full_only = any(f.id in run.full and f.id not in run.partial for f in g)
        for f in g:
            if f.id in run.full or f.id not in run.partial:
                continue
            if by_partial[run.partial[f.id]] < 2 and not full_only:
                continue
            if not f.online:
                stats.unverified.append(f.id)
                continue
            need_full.append(f)
    for f, got in zip(need_full, run.readers.read_all(need_full, lambda f: _full(f.path, f.size))):
        if isinstance(got, OSError):
            run.failed(f, got)
            continue
        digest, mtime_ns = got
        stats.full_hashed += 1
        stats.bytes_read += f.size
        run.full[f.id] = digest
        run.store(f, mtime_ns, run.partial[f.id], digest)
    return run


def group_exact(
    files: Iterable[DupFile], stats: HashStats | None = None
) -> tuple[list[ExactSet], list[HashUpdate]]:
    """Exact sets among files (any order); also the hashes that were computed, to write back."""
    stats = stats if stats is not None else HashStats()
    by_size: dict[int, list[DupFile]] = defaultdict(list)
    for f in files:
        if f.size > 0:
            by_size[f.size].append(f)
    groups = [g for g in by_size.values() if len(g) > 1]
    stats.candidates += sum(len(g) for g in groups)
    run = _hash_groups(groups, stats)
    sets: list[ExactSet] = []
    for group in groups:
        by_hash: dict[str, list[DupFile]] = defaultdict(list)
        for f in group:
            if f.id in run.full:
                by_hash[run.full[f.id]].append(f)
        for digest, members in by_hash.items():
            if len(members) > 1:
                known = sorted((_with_hashes(m, digest, run.partial.get(m.id)) for m in members), key=lambda m: m.id)
                sets.append(ExactSet(digest, group[0].size, tuple(known)))
    sets.sort(key=lambda s: (-s.reclaimable, s.content_hash))
    return sets, run.writes


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
    for err in stats.errors:
        log.warning("could not hash %s", err)
    return sets


def _with_hashes(m: DupFile, content_hash: str, partial: str | None) -> DupFile:
    """The member as this pass knows it (its hashes, computed now or read from the index)."""
    if m.content_hash == content_hash and (m.partial_hash or not partial):
        return m
    return replace(m, content_hash=content_hash, partial_hash=m.partial_hash or partial)
