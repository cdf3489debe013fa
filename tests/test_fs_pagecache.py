"""Reads of cached bytes on the trio thread (RWF_NOWAIT), and everything else still on the source's threads."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest
import trio

from gallerfs.fs import pagecache
from gallerfs.fs.pagecache import CachedReader, cached_reads_possible, filesystem_magic
from gallerfs.fs.sourceio import Buffers, ReadAhead, SourceGate

def _local_folder(*candidates: Path) -> Path:
    """The first folder whose files take RWF_NOWAIT reads (ext4, xfs, btrfs...: this machine's disk)."""
    for folder in candidates:
        probe = folder / "nowait-probe"
        probe.write_bytes(b"x")
        fd = os.open(probe, os.O_RDONLY)
        try:
            if cached_reads_possible(fd) and CachedReader(fd, 1, True).read(0, 1) is not None:
                return folder
        finally:
            os.close(fd)
            probe.unlink()
    raise AssertionError(f"none of {candidates} is on a local filesystem that takes RWF_NOWAIT reads")


@pytest.fixture
def local_file(tmp_path: Path):
    data = random.Random(5).randbytes(3 * (1 << 20) + 777)
    path = _local_folder(tmp_path, Path(__file__).resolve().parent) / "pagecache-photo.jpg"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        yield path, fd, data
    finally:
        os.close(fd)
        path.unlink()


def _not_cached(monkeypatch) -> None:
    """Every read with RWF_NOWAIT answers as it does when the pages are not in the page cache."""
    real = os.preadv

    def preadv(fd: int, buffers: list, offset: int, flags: int = 0) -> int:
        if flags & pagecache.RWF_NOWAIT:
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))
        return real(fd, buffers, offset, flags)

    monkeypatch.setattr(os, "preadv", preadv)


class NoThreads(SourceGate):
    """A gate that fails the test if anything is handed to a thread."""

    def submit(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        raise AssertionError("a read of cached bytes went to a thread")


def test_local_files_may_use_the_page_cache_and_others_may_not(local_file) -> None:
    _, fd, _ = local_file
    assert cached_reads_possible(fd)
    proc = os.open("/proc/self/status", os.O_RDONLY)
    try:
        assert filesystem_magic(proc) not in pagecache.LOCAL_FILESYSTEMS
        assert not cached_reads_possible(proc)
    finally:
        os.close(proc)


def test_cached_bytes_are_read_on_the_trio_thread_with_no_hand_off(local_file) -> None:
    path, fd, data = local_file
    path.read_bytes()  # in the page cache now

    async def main() -> None:
        ra = ReadAhead(NoThreads("t"), fd, len(data), Buffers(), cached_reads=True)
        step = 131072
        for off in range(0, len(data), step):
            view = ra.cached(off, step)
            assert view is not None and bytes(view) == data[off : off + step]  # the last one cut at the end
        assert ra.cached(len(data), step) is None  # at the end: the usual path answers (empty)
        assert not ra.chunks

    trio.run(main)


def test_bytes_not_cached_go_to_the_source_threads_and_read_right(local_file, monkeypatch) -> None:
    path, fd, data = local_file
    _not_cached(monkeypatch)

    async def main() -> None:
        gate = SourceGate("t")
        ra = ReadAhead(gate, fd, len(data), Buffers(), cached_reads=True)
        assert ra.cached(0, 131072) is None  # would wait for the disk: declined
        step = 131072
        threaded = 0
        for off in range(0, len(data), step):
            view = ra.hit(off, step) or ra.cached(off, step)
            if view is None:
                threaded += 1
            got = bytes(view) if view is not None else bytes(await ra.read(off, step))
            assert got == data[off : off + step]
        assert threaded >= 2 and ra.page_cache.enabled  # the first read, and the one that starts the chain
        await ra.close()

    trio.run(main)


def test_a_file_that_shrank_or_grew_since_it_was_opened_is_read_the_usual_way(local_file) -> None:
    path, fd, data = local_file
    reader = CachedReader(fd, len(data), True)
    path.read_bytes()
    assert reader.read(0, 4096) is not None
    assert reader.read(len(data) - 10, 4096) is not None and len(reader.read(len(data) - 10, 4096)) == 10
    os.truncate(path, 1 << 20)  # shorter now: a read past the new end is not answered from the cache
    assert reader.read((1 << 20) + 4096, 4096) is None
    assert reader.read(len(data) + 1, 4096) is None  # past the size as opened: the usual path


# A filesystem that refuses the flag turns the fast path off for the file; an I/O error is left to the
# usual path, which reports it, and is no reason to stop trying.
@pytest.mark.parametrize("code,stays_on", [(errno.EOPNOTSUPP, False), (errno.EINVAL, False), (errno.EIO, True)])
def test_a_refusal_or_an_error_falls_back_to_the_usual_path(local_file, monkeypatch, code: int, stays_on: bool) -> None:
    _, fd, data = local_file
    reader = CachedReader(fd, len(data), True)

    def failing(*args: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(pagecache.os, "preadv", failing)
    assert reader.read(0, 4096) is None
    assert reader.enabled is stays_on
