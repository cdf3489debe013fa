"""Blocking calls on originals, off the trio thread, a few threads per source.

Every syscall that touches an original (open, read, write, fsync, close...)
runs on a worker thread through the ``SourceGate`` of the original's source:
a hung USB disk or NFS share then stalls only the requests for that source,
never the trio thread, and at most ``SOURCE_THREADS`` threads. Once all of a
source's threads have been stuck for ``STALL_S`` seconds, new requests for it
fail at once with EIO (logged), and those queued behind the stuck calls give
up within a second, so that requests never pile up on a dead disk (pyfuse3
serves at most 99 at a time); they are served again as soon as a stuck call
returns. Closes are the exception: they wait for the source.

``ReadAhead`` makes sequential reads cheap despite the hand-off: a read-only
original that is read in order is fetched in growing chunks ahead of the
reader, so most FUSE reads (128 KiB each, 1 MiB with the read-ahead raised)
are answered from memory on the trio thread while the next chunks are read in
parallel: ``ReadAhead.hit`` answers those with a slice of a chunk, without a
coroutine, a thread or a copy (``Operations.read`` tries it first). A read of
bytes the page cache holds already is copied from it on the trio thread with
``RWF_NOWAIT``, which never waits for the disk (``ReadAhead.cached``, local
filesystems only: ``pagecache``). Other random reads go straight to a worker thread.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections import deque
from typing import Any, Callable, TypeVar, cast

import outcome
import trio

from gallerfs.fs.pagecache import CachedReader

log = logging.getLogger(__name__)

T = TypeVar("T")

SOURCE_THREADS = 4  # worker threads one source may occupy
STALL_S = 10.0  # all of a source's threads busy this long without an answer: the source is not answering
STALL_CHECK_S = 1.0  # how often a request queued behind a source's stuck calls checks for a stall
FIRST_CHUNK = 256 << 10  # the first chunk read ahead; each next one is twice as long...
MAX_CHUNK = 1 << 20  # ...up to this (ahead of the reader, but still in the CPU caches when it is sent)
AHEAD = 2  # chunks fetched beyond the one being read (more: fewer reads wait, but colder caches)
BEHIND = 512 << 10  # bytes kept behind the reader
BUFFER_BUDGET = 256 << 20  # read-ahead bytes held by all handles together
KEEP_FREE = 32 << 20  # bytes of read-ahead buffers kept for reuse


class Job:
    """One blocking call on a source's thread; ``done`` is set on the trio thread when it returns."""

    __slots__ = ("fn", "args", "done", "result", "error", "started", "gate", "patient", "then")

    def __init__(self, gate: SourceGate, fn: Callable[..., Any], args: tuple[Any, ...], patient: bool) -> None:
        self.fn = fn
        self.args = args
        self.done = trio.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = 0.0  # 0 while queued
        self.gate = gate
        self.patient = patient  # stays queued while the source is stalled (a close must happen some day)
        self.then: Callable[[Job], None] | None = None  # called on the trio thread once done

    def call(self) -> Any:
        return self.fn(*self.args)

    async def wait(self) -> Any:
        # (waiting on a set Event would still yield: skip it). Cancelled at unmount, the call is
        # abandoned and its thread finishes alone.
        while not self.done.is_set():
            with trio.move_on_after(STALL_CHECK_S):
                await self.done.wait()
            if not self.done.is_set() and not self.started and not self.patient and self.gate.stalled():
                self.gate.queue.remove(self)  # still queued behind stuck calls: give the requests back
                self.gate._finished(self, outcome.Error(self.gate.not_answering()))
        if self.error is not None:
            raise self.error
        return self.result


class SourceGate:
    """At most SOURCE_THREADS blocking calls of one source at a time, each on a thread of trio's cache.

    Only the trio thread submits and completes jobs (completion comes back with
    ``run_sync_soon``), so the bookkeeping needs no lock; a hand-off costs a few
    microseconds, a fraction of ``trio.to_thread.run_sync``'s.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.running: set[Job] = set()
        self.queue: deque[Job] = deque()
        self._warned = False

    def stalled(self) -> bool:
        """All threads taken, and the oldest call has been waiting on the source for STALL_S."""
        if len(self.running) < SOURCE_THREADS:
            return False
        return time.monotonic() - min(job.started for job in self.running) > STALL_S

    def not_answering(self) -> OSError:
        if not self._warned:
            log.warning("source %s is not answering (%d calls stuck for over %.0f s): its reads fail with EIO "
                        "until it answers", self.name, len(self.running), STALL_S)  # fmt: skip
            self._warned = True
        return OSError(errno.EIO, f"source {self.name} is not answering")

    def submit(self, fn: Callable[..., Any], *args: Any, even_if_stalled: bool = False) -> Job:
        if not even_if_stalled and self.stalled():
            raise self.not_answering()
        job = Job(self, fn, args, even_if_stalled)
        if len(self.running) < SOURCE_THREADS:
            self._start(job)
        else:
            self.queue.append(job)
        return job

    async def run(self, fn: Callable[..., T], *args: Any, even_if_stalled: bool = False) -> T:
        """fn(*args) on one of this source's threads (queued behind stuck calls if *even_if_stalled*)."""
        return cast(T, await self.submit(fn, *args, even_if_stalled=even_if_stalled).wait())  # the job runs fn

    def _start(self, job: Job) -> None:
        token = trio.lowlevel.current_trio_token()
        job.started = time.monotonic()
        self.running.add(job)

        def deliver(result: outcome.Outcome[Any]) -> None:  # on the worker thread
            try:
                token.run_sync_soon(self._finished, job, result)
            except trio.RunFinishedError:  # unmounted meanwhile: nobody waits any more
                pass

        trio.lowlevel.start_thread_soon(job.call, deliver, name=f"gallerfs source {self.name}")

    def _finished(self, job: Job, result: outcome.Outcome[Any]) -> None:  # on the trio thread; must not raise
        self.running.discard(job)
        if isinstance(result, outcome.Value):
            job.result = result.value
        elif isinstance(result, outcome.Error):
            job.error = result.error
        job.done.set()
        if job.then is not None:
            try:
                job.then(job)
            except Exception:
                log.exception("after a call on source %s", self.name)
        if self._warned and not self.queue:
            log.warning("source %s answers again", self.name)
            self._warned = False
        while self.queue and len(self.running) < SOURCE_THREADS:
            self._start(self.queue.popleft())


class SourceGates:
    def __init__(self) -> None:
        self._gates: dict[int, SourceGate] = {}

    def get(self, source_id: int, name: str | None = None) -> SourceGate:
        gate = self._gates.get(source_id)
        if gate is None:
            gate = self._gates[source_id] = SourceGate(name or str(source_id))
        return gate


class Buffers:
    """Read-ahead buffers, counted against a budget and reused: a fresh multi-MiB allocation per chunk
    costs a page fault per 4 KiB. Only the trio thread calls it."""

    def __init__(self, limit: int = BUFFER_BUDGET, keep: int = KEEP_FREE) -> None:
        self.limit = limit  # bytes held by chunks
        self.keep = keep  # bytes of free buffers kept for reuse
        self.used = 0
        self._free: dict[int, list[bytearray]] = {}
        self._free_bytes = 0

    def take(self, size: int) -> tuple[bool, bytearray | None]:
        """(within budget, a free buffer of *size* or None: the reading thread allocates one)."""
        if self.used + size > self.limit:
            return False, None
        self.used += size
        stack = self._free.get(size)
        if stack:
            self._free_bytes -= size
            return True, stack.pop()
        return True, None

    def give(self, size: int, buf: bytearray | None) -> None:
        """A chunk of *size* is gone; its buffer (None: still being written, or still in use) may be reused."""
        self.used -= size
        if buf is not None and self._free_bytes + size <= self.keep:
            self._free.setdefault(size, []).append(buf)
            self._free_bytes += size


def _fill(fd: int, buf: bytearray | None, size: int, off: int) -> tuple[bytearray, int]:
    """On a source's thread: read up to *size* bytes at *off* into *buf* (allocated here if None)."""
    if buf is None:
        buf = bytearray(size)
    return buf, os.preadv(fd, [buf], off)


class _Chunk:
    __slots__ = ("start", "end", "job", "users", "view", "filled")

    def __init__(self, start: int, end: int, job: Job) -> None:
        self.start, self.end, self.job = start, end, job
        self.users = 0  # reads waiting on it: its buffer is not reused while they may slice it
        self.view: memoryview | None = None  # of the bytes read, once read (``ReadAhead.hit`` slices it)
        self.filled = start  # where the bytes read end, once read

    def done(self, job: Job) -> None:  # on the trio thread, as its pread returns
        if job.error is None:
            buf, n = job.result
            self.view = memoryview(buf)[:n]
            self.filled = self.start + n


class ReadAhead:
    """Sequential reads of one read-only original, fetched ahead on its source's threads.

    The first read and any read out of order go straight to a thread, for
    exactly the bytes asked (a program that reads only a file's header costs
    nothing extra). From the second read in order on, the file is fetched in a
    chain of chunks ahead of the reader, each twice the last (from FIRST_CHUNK,
    or the size of the read that starts the chain, up to MAX_CHUNK) and ending
    on a multiple of its length, AHEAD chunks beyond the one being read. Only the trio thread
    calls it; the worker threads only run ``preadv``.
    """

    def __init__(self, gate: SourceGate, fd: int, size: int, buffers: Buffers, cached_reads: bool = False) -> None:
        self.gate = gate
        self.page_cache = CachedReader(fd, size, cached_reads)  # bytes already cached: no thread at all
        self.fd = fd
        self.size = size  # as opened; reads past it go straight to the file
        self.buffers = buffers
        self.chunks: list[_Chunk] = []  # contiguous, in file order
        self.next_off = -1  # where a read in order would start
        self.ramp = FIRST_CHUNK
        self._outstanding = 0  # preads in flight, dropped chunks' too (the descriptor is theirs)
        self._settled: trio.Event | None = None

    def hit(self, off: int, size: int) -> memoryview | None:
        """The common case, with no coroutine and no thread: the next read in order, wholly inside a
        chunk already read. None for anything else (then ``read``)."""
        if off != self.next_off:
            return None
        end = off + size
        if end > self.size:
            end = self.size
        for chunk in self.chunks:
            if chunk.start <= off < chunk.end:
                view = chunk.view
                if view is None or end > chunk.filled or end <= off:  # not read yet, short, or at the end
                    return None
                self.next_off = off + size
                self._advance(off, end)
                # No copy: the reply is written before any other request runs (see ``read``).
                return view[off - chunk.start : end - chunk.start]
        return None

    def cached(self, off: int, size: int) -> memoryview | None:
        """The next best case, still with no coroutine and no thread: a read whose bytes are all in the
        page cache already, copied on the trio thread without waiting (``pagecache``). None otherwise."""
        view = self.page_cache.read(off, size)
        if view is not None:
            self.next_off = off + size  # (an uncached read after it is still in order: it starts a chain)
        return view

    def _advance(self, off: int, end: int) -> None:
        """A read of [off, end) is being served: drop what is far behind, keep AHEAD chunks ahead."""
        chunks = self.chunks
        while chunks[0].end <= off - BEHIND:  # (a little is kept behind: the kernel may reorder reads)
            self._drop_first()
        while chunks[-1].end < end and self._submit(chunks[-1].end):
            pass
        ahead = 0
        for chunk in reversed(chunks):  # (contiguous: those ahead are the last ones)
            if chunk.start < end:
                break
            ahead += 1
        while ahead < AHEAD and chunks[-1].end < self.size and self._submit(chunks[-1].end):
            ahead += 1

    async def read(self, off: int, size: int) -> bytes | memoryview:
        end = min(off + size, self.size)
        chunks = self.chunks
        covered = bool(chunks) and chunks[0].start <= off < chunks[-1].end
        continuing = bool(chunks) and off == chunks[-1].end  # (reads caught up with the chain: it goes on)
        in_order = off == self.next_off or continuing
        self.next_off = off + size
        if end <= off or not (covered or in_order):
            return await self.gate.run(os.pread, self.fd, size, off)
        if not covered:
            if not continuing:  # a new chain, from here, its first chunk no shorter than this read
                self._drop_all()
                self.ramp = min(max(FIRST_CHUNK, 1 << (size - 1).bit_length()), MAX_CHUNK)
            if not self._submit(off):
                return await self.gate.run(os.pread, self.fd, size, off)
        self._advance(off, end)
        needed = [c for c in chunks if c.end > off and c.start < end]
        parts: list[memoryview] = []
        for chunk in needed:
            chunk.users += 1
        try:
            for chunk in needed:
                try:
                    buf, n = await chunk.job.wait()
                except OSError:
                    self._drop_all()  # the next read tries again
                    raise
                parts.append(memoryview(buf)[max(0, off - chunk.start) : min(n, off + size - chunk.start)])
        finally:
            for chunk in needed:
                chunk.users -= 1
        if not parts or sum(map(len, parts)) < end - off:  # over budget, or the file shrank
            return await self.gate.run(os.pread, self.fd, size, off)
        # No copy: the reply is written before any other request runs, and a buffer is reused only
        # once it is behind every reader.
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _submit(self, start: int) -> bool:
        """Fetch the next chunk of the chain; False when over budget or the source is not answering.

        A chunk ends on a multiple of its length, so that the kernel's reads (128 KiB, or 1 MiB with
        the read-ahead raised, at multiples of their size) each fall inside one chunk: answered with
        a slice of it (``hit``), never by joining two."""
        length = (start // self.ramp + 1) * self.ramp - start
        ok, buf = self.buffers.take(length)
        if not ok:
            return False
        try:
            job = self.gate.submit(_fill, self.fd, buf, length, start)
        except OSError:
            self.buffers.give(length, buf)
            return False
        chunk = _Chunk(start, start + length, job)
        self.chunks.append(chunk)
        self._outstanding += 1
        job.then = lambda job: self._done_with_one(chunk, job)
        self.ramp = min(self.ramp * 2, MAX_CHUNK)
        return True

    def _done_with_one(self, chunk: _Chunk, job: Job) -> None:  # on the trio thread, as a pread returns
        chunk.done(job)
        self._outstanding -= 1
        if not self._outstanding and self._settled is not None:
            self._settled.set()
            self._settled = None

    async def settle(self) -> None:
        """Wait until no pread of this file is in flight."""
        while self._outstanding:
            if self._settled is None:
                self._settled = trio.Event()
            await self._settled.wait()

    def _drop_first(self) -> None:
        chunk = self.chunks.pop(0)
        job = chunk.job
        reusable = job.done.is_set() and job.error is None and not chunk.users
        self.buffers.give(chunk.end - chunk.start, job.result[0] if reusable else None)

    def _drop_all(self) -> None:
        while self.chunks:
            self._drop_first()

    def forget(self) -> None:
        """The file changed: drop what was read ahead (chunks still being read are not reused)."""
        self._drop_all()
        self.next_off = -1

    async def close(self) -> None:
        """Forget every chunk once no pread is in flight (the descriptor may be closed after)."""
        await self.settle()
        self._drop_all()
