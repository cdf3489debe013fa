"""Originals' blocking calls off the trio thread: per-source thread limits, stalls, read-ahead (no mount)."""

from __future__ import annotations

import errno
import os
import random
import threading
from pathlib import Path

import pytest
import trio
import trio.testing

from gallerfs.fs import sourceio
from gallerfs.fs.sourceio import Buffers, ReadAhead, SourceGate, SourceGates


@pytest.fixture
def blob(tmp_path: Path) -> tuple[int, bytes]:
    data = random.Random(7).randbytes(11 * (1 << 20) + 12345)  # not a multiple of any chunk
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    yield fd, data
    os.close(fd)


def test_sequential_random_and_reordered_reads_return_the_file(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        budget = Buffers()
        ra = ReadAhead(SourceGate("t"), fd, len(data), budget)
        step = 131072
        offsets = list(range(0, len(data) + step, step))
        offsets[5], offsets[6] = offsets[6], offsets[5]  # the kernel may send two reads out of order
        for off in offsets:
            assert bytes(await ra.read(off, step)) == data[off : off + step]
        assert ra.chunks, "reads in order are fetched ahead"
        rng = random.Random(3)
        for _ in range(200):
            off, size = rng.randrange(len(data) + 10), rng.choice([1, 4096, 131072, 3 << 20])
            assert bytes(await ra.read(off, size)) == data[off : off + size]
        for off in range(4096, len(data), 65536 + 17):  # in order, unaligned, across chunk boundaries
            assert bytes(await ra.read(off, 65536 + 17)) == data[off : off + 65536 + 17]
        await ra.close()
        assert budget.used == 0 and not ra.chunks

    trio.run(main)


async def _served(ra: ReadAhead, off: int, size: int, hits: list[bool]) -> bytes:
    """One read as ``Operations.read`` serves it: the fast path first, else the full one."""
    view = ra.hit(off, size)
    hits.append(view is not None)
    if view is not None:
        assert isinstance(view, memoryview)  # a slice of the read-ahead buffer, not a copy
        return bytes(view)
    return bytes(await ra.read(off, size))


def _kernel_reads(size: int, first: int, step: int) -> list[tuple[int, int]]:
    """Reads as the kernel sends them: *first* bytes at a time up to *step*, then *step* at a time."""
    reads = [(off, first) for off in range(0, step, first)]
    return reads + [(off, step) for off in range(step, size + step, step)]


# the kernel's reads: default read-ahead; raised (1 MiB reads after a short start, or from the start)
@pytest.mark.parametrize("first,step", [(131072, 131072), (131072, 1 << 20), (1 << 20, 1 << 20)])
def test_reads_in_order_are_answered_from_read_ahead_without_waiting(blob: tuple[int, bytes], first: int,
                                                                     step: int) -> None:  # fmt: skip
    fd, data = blob

    async def main() -> None:
        budget = Buffers()
        ra = ReadAhead(SourceGate("t"), fd, len(data), budget)
        hits: list[bool] = []
        for off, size in _kernel_reads(len(data), first, step):
            got = await _served(ra, off, size, hits)
            assert got == data[off : off + size]
            await trio.testing.wait_all_tasks_blocked()  # let what was read ahead arrive
            while ra._outstanding:
                await trio.sleep(0.001)
        assert not hits[0] and not hits[1], "the first read goes to the file, the second starts the chain"
        # Chunks end on multiples of their length: once the chain runs, no read straddles two chunks.
        assert all(hits[4:-1]), hits
        await ra.close()
        assert budget.used == 0

    trio.run(main)


def test_the_fast_path_declines_what_it_cannot_answer(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
        assert ra.hit(0, 4096) is None  # nothing read ahead yet
        hits: list[bool] = []
        for off in range(0, 4 << 20, 131072):
            assert await _served(ra, off, 131072, hits) == data[off : off + 131072]
        await ra.settle()
        off = 4 << 20
        assert ra.hit(off + 131072, 131072) is None  # out of order: the full path decides
        view = ra.hit(off, 131072)
        assert view is not None and bytes(view) == data[off : off + 131072]
        ra.forget()  # the original was written through another handle
        assert ra.hit(off + 131072, 131072) is None
        assert bytes(await ra.read(off + 131072, 131072)) == data[off + 131072 : off + 262144]
        await ra.close()

    trio.run(main)


def test_the_last_read_of_a_file_is_cut_at_its_end(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
        hits: list[bool] = []
        step = 131072
        for off in range(0, len(data) + 2 * step, step):
            await ra.settle()
            assert await _served(ra, off, step, hits) == data[off : off + step]
        await ra.close()

    trio.run(main)


def test_a_header_read_fetches_nothing_ahead(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
        assert bytes(await ra.read(0, 65536)) == data[:65536]
        assert not ra.chunks

    trio.run(main)


def test_read_ahead_respects_the_budget(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        budget = Buffers(limit=sourceio.FIRST_CHUNK)
        ra = ReadAhead(SourceGate("t"), fd, len(data), budget)
        for off in range(0, len(data), 131072):
            assert bytes(await ra.read(off, 131072)) == data[off : off + 131072]
            assert budget.used <= budget.limit

    trio.run(main)


def test_a_failing_read_reports_its_errno_and_the_next_one_retries(blob: tuple[int, bytes], monkeypatch) -> None:
    fd, data = blob
    failing = {"on": False}
    real_pread, real_preadv = os.pread, os.preadv

    def pread(fd_: int, n: int, off: int) -> bytes:
        if failing["on"]:
            raise OSError(errno.EIO, "bad sector")
        return real_pread(fd_, n, off)

    def preadv(fd_: int, buffers: list[bytearray], off: int) -> int:
        if failing["on"]:
            raise OSError(errno.EIO, "bad sector")
        return real_preadv(fd_, buffers, off)

    monkeypatch.setattr(sourceio.os, "pread", pread)
    monkeypatch.setattr(sourceio.os, "preadv", preadv)

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
        await ra.read(0, 131072)
        failing["on"] = True
        with pytest.raises(OSError) as exc:
            await ra.read(131072 * 40, 131072)  # out of order: straight to the file
        assert exc.value.errno == errno.EIO
        with pytest.raises(OSError):
            for off in range(131072 * 41, 131072 * 60, 131072):
                await ra.read(off, 131072)
        failing["on"] = False
        off = 131072 * 60
        assert bytes(await ra.read(off, 131072)) == data[off : off + 131072]

    trio.run(main)


def test_a_hung_source_holds_only_its_own_threads_and_then_fails_fast(monkeypatch) -> None:
    monkeypatch.setattr(sourceio, "STALL_S", 0.2)
    monkeypatch.setattr(sourceio, "STALL_CHECK_S", 0.05)
    release = threading.Event()
    entered = threading.Semaphore(0)

    def hang() -> str:
        entered.release()
        release.wait(30)
        return "late"

    async def main() -> None:
        gates = SourceGates()
        hung, healthy = gates.get(1, "usb"), gates.get(2, "local")
        assert gates.get(1) is hung
        results: list[object] = []

        async def call(gate: SourceGate, fn) -> None:
            try:
                results.append(await gate.run(fn))
            except OSError as exc:
                results.append(exc.errno)

        async with trio.open_nursery() as nursery:
            for _ in range(sourceio.SOURCE_THREADS + 3):  # more than its threads: the rest queue
                nursery.start_soon(call, hung, hang)
            for _ in range(sourceio.SOURCE_THREADS):
                await trio.to_thread.run_sync(entered.acquire)
            assert len(hung.running) == sourceio.SOURCE_THREADS and len(hung.queue) == 3
            with trio.fail_after(5):  # the other source still gets threads
                assert await healthy.run(lambda: "ok") == "ok"
            await trio.sleep(0.5)
            assert hung.stalled()
            assert not hung.queue and results == [errno.EIO] * 3  # the queued ones gave up
            with pytest.raises(OSError) as exc:
                await hung.run(lambda: "never")
            assert exc.value.errno == errno.EIO
            closing = hung.submit(lambda: "closed", even_if_stalled=True)  # a close still queues
            release.set()  # the disk answers again: every queued call runs
        assert results.count("late") == sourceio.SOURCE_THREADS
        assert await closing.wait() == "closed"
        assert not hung.stalled() and await hung.run(lambda: "back") == "back"

    trio.run(main)


def test_buffers_are_reused_and_every_byte_is_right(blob: tuple[int, bytes]) -> None:
    fd, data = blob

    async def main() -> None:
        buffers = Buffers()
        for _ in range(3):  # the second and third reads reuse the first's buffers
            ra = ReadAhead(SourceGate("t"), fd, len(data), buffers)
            got = b"".join([bytes(await ra.read(off, 131072)) for off in range(0, len(data), 131072)])
            assert got == data
            await ra.close()
        assert buffers.used == 0 and buffers._free_bytes > 0

    trio.run(main)


def test_forget_drops_what_was_read_ahead(tmp_path: Path) -> None:
    path = tmp_path / "edited.bin"
    path.write_bytes(b"a" * (4 << 20))
    fd = os.open(path, os.O_RDWR)

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, 4 << 20, Buffers())
        for off in range(0, 1 << 20, 131072):
            assert bytes(await ra.read(off, 131072)) == b"a" * 131072
        os.pwrite(fd, b"b" * (1 << 20), 1 << 20)  # what a write through another handle does
        ra.forget()
        assert bytes(await ra.read(1 << 20, 131072)) == b"b" * 131072

    try:
        trio.run(main)
    finally:
        os.close(fd)


def test_close_waits_for_reads_still_in_flight_even_of_forgotten_chunks(blob: tuple[int, bytes], monkeypatch) -> None:
    fd, data = blob
    real = os.preadv
    in_flight = {"n": 0}
    lock = threading.Lock()

    def slow_preadv(fd_: int, buffers: list[bytearray], off: int) -> int:
        with lock:
            in_flight["n"] += 1
        try:
            threading.Event().wait(0.3 if off > 131072 else 0)  # a slow disk, past the chunk being read
            return real(fd_, buffers, off)
        finally:
            with lock:
                in_flight["n"] -= 1

    monkeypatch.setattr(sourceio.os, "preadv", slow_preadv)

    async def main() -> None:
        ra = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
        await ra.read(0, 131072)
        await ra.read(131072, 131072)  # starts the chain: chunks ahead are being read
        with trio.fail_after(5):  # their threads start soon, not at once
            while in_flight["n"] == 0:
                await trio.sleep(0.005)
        ra.forget()  # dropped, but their preads still run on the descriptor
        await ra.close()
        assert in_flight["n"] == 0, "the descriptor may be closed now: nothing may still read it"

    trio.run(main)


def test_the_handle_table_tracks_which_open_handles_read_ahead(blob: tuple[int, bytes]) -> None:
    from gallerfs.fs.handles import HandleTable, OriginalHandle, TextHandle

    fd, data = blob
    table = HandleTable()
    original = OriginalHandle(fd, 1, 1, 5, False, False)
    original.ahead = ReadAhead(SourceGate("t"), fd, len(data), Buffers())
    fh = table.add(original)
    other = table.add(TextHandle(b"x"))
    assert table.read_ahead == {fh: original.ahead}
    table.replace(fh, TextHandle(b"y"))  # (an album member truncated: its copy replaces the original)
    assert table.read_ahead == {}
    table.replace(fh, original)
    assert table.pop(fh) is original and table.read_ahead == {}
    assert table.pop(other) is not None
