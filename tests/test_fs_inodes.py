"""The inode table and the Operations bookkeeping around it, without the kernel.

The handlers are called directly in trio, with ``pyfuse3.readdir_reply`` replaced
by a collector, and a ``Kernel`` that counts references the way the kernel does
(one per entry reply, one per readdirplus entry) and gives them all back with
``forget``, as it does under memory pressure or ``echo 3 > drop_caches``.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pyfuse3
import pytest
import trio

from gallerfs import config
from gallerfs.fs.inodes import ROOT_INODE, InodeTable
from gallerfs.fs.nodes import FILE_INODE_BASE, Node, StaticDir
from gallerfs.fs.operations import Operations
from gallerfs.paths import LibraryPaths
from tests.conftest import run_gallerfs

FOLDERS, PER_FOLDER = 4, 60


class Named(Node):
    def __init__(self, *key: object) -> None:
        self.key = key


def test_counted_nodes_live_exactly_as_long_as_the_kernel_holds_them() -> None:
    root = StaticDir(("root",))
    table = InodeTable(root, unheld_kept=3)
    top = table.pin(StaticDir(("top", b"x")), ROOT_INODE)
    f = table.held_ino(Named("file", 7), top)
    assert f == FILE_INODE_BASE + 7 and table.count(f) == 1
    table.ref(f, Named("file", 7))
    assert not table.forget(f, 1) and table.get(f) is not None  # one reference left
    assert table.forget(f, 1) and table.get(f) is None  # computed: dropped at zero, rebuilt on demand
    assert table.ino(Named("file", 7)) == f  # the same number, always

    dirs = [table.held_ino(Named("dir", i), top) for i in range(10)]
    assert len(set(dirs)) == 10 and all(d < FILE_INODE_BASE for d in dirs)
    for d in dirs:
        table.forget(d, 1)
    assert sum(table.get(d) is not None for d in dirs) == 3  # the most recently released stay bound
    assert table.ino(Named("dir", 9)) == dirs[9]  # listed again: the same number
    assert table.ino(Named("dir", 0)) not in dirs  # dropped long ago: a new number, never an old one

    # the top-level folders and the root are never dropped
    assert not table.forget(top, 5) and table.get(top) is not None and table.get(ROOT_INODE) is root
    assert table.generation(ROOT_INODE) == table.generation(top) == table.generation(f) == 0
    assert table.generation(dirs[9]) == table.epoch != 0
    # a folder pinned later (a new journal folder) keeps the generation its number has
    late = table.pin(StaticDir(("top", b"late")), ROOT_INODE, stable=False)
    table.unpin(top)
    assert table.generation(late) == table.epoch and table.generation(top) == 0


def test_a_key_unbound_while_held_gets_a_new_number_and_the_old_one_keeps_working() -> None:
    table = InodeTable(StaticDir(("root",)))
    old_node = Named("journal", 1, 2, 1)
    old = table.held_ino(old_node, ROOT_INODE)
    table.unbind(old_node.key)
    new = table.held_ino(Named("journal", 1, 2, 1), ROOT_INODE)
    assert new != old and table.get(old) is old_node  # the kernel still holds the old one
    assert table.forget(old, 1) and table.get(old) is None and table.get(new) is not None


def _library(tmp_path: Path) -> LibraryPaths:
    photos = tmp_path / "photos"
    for f in range(FOLDERS):
        (photos / f"d{f}").mkdir(parents=True)
        for i in range(PER_FOLDER):
            (photos / f"d{f}" / f"IMG_{f:02d}{i:03d}.jpg").write_bytes(b"\xff\xd8not really a jpeg %d %d" % (f, i))
    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 1\n")
    run_gallerfs(library, "add", "--name", "photos", str(photos))
    run_gallerfs(library, "index", "--scan-only")
    return LibraryPaths(root=library, config_file=library / "config.toml")


class Kernel:
    """What the kernel would hold after the replies it was given."""

    def __init__(self, ops: Operations, monkeypatch: pytest.MonkeyPatch, batch: int = 1_000_000) -> None:
        self.ops = ops
        self.counts: dict[int, int] = {}
        self.batch = batch
        monkeypatch.setattr(pyfuse3, "readdir_reply", self._reply)

    def _reply(self, token: list[tuple[bytes, Any]], name: bytes, attrs: Any, next_id: int) -> bool:
        if len(token) >= self.batch:
            return False
        token.append((name, attrs))
        return True

    def took(self, ino: int) -> None:
        self.counts[ino] = self.counts.get(ino, 0) + 1

    async def lookup(self, parent: int, name: bytes) -> Any:
        attrs = await self.ops.lookup(parent, name)
        self.took(attrs.st_ino)
        return attrs

    async def listdir(self, ino: int) -> list[tuple[bytes, Any]]:
        fh = await self.ops.opendir(ino, None)
        out: list[tuple[bytes, Any]] = []
        while True:
            token: list[tuple[bytes, Any]] = []
            await self.ops.readdir(fh, len(out), token)
            for _, attrs in token:
                self.took(attrs.st_ino)
            out += token
            if not token:
                break
        await self.ops.releasedir(fh)
        return out

    async def walk(self, ino: int) -> int:
        files = 0
        for _, attrs in await self.listdir(ino):
            if stat.S_ISDIR(attrs.st_mode):
                files += await self.walk(attrs.st_ino)
            else:
                files += 1
        return files

    async def drop_caches(self) -> None:
        await self.ops.forget(list(self.counts.items()))
        self.counts.clear()


def _ops(paths: LibraryPaths) -> Operations:
    return Operations(paths, config.load(paths.config_file), paths.root / "journal")


def test_browsing_everything_then_dropping_caches_leaves_a_small_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _library(tmp_path)
    (paths.root / "journal").mkdir()
    ops = _ops(paths)
    kernel = Kernel(ops, monkeypatch, batch=7)  # small readdir batches: only the entries given are counted

    async def main() -> None:
        await ops.check_generation()
        base = len(ops.inodes)
        src = await kernel.lookup(ROOT_INODE, b"sources")
        assert await kernel.walk(src.st_ino) == FOLDERS * PER_FOLDER
        by_date = await kernel.lookup(ROOT_INODE, b"by-date")
        assert await kernel.walk(by_date.st_ino) == FOLDERS * PER_FOLDER
        held = ops.inodes.held()
        assert held >= FOLDERS * PER_FOLDER and held == sum(1 for c in kernel.counts.values() if c)
        for ino, n in kernel.counts.items():
            assert ops.inodes.count(ino) == n, ino
        # 2,000 distinct similar/ names (each a folder of its own) looked up, then forgotten, never pile up
        ops.inodes.unheld_kept = 100
        similar = (await kernel.lookup(ROOT_INODE, b"similar")).st_ino
        for i in range(2000):
            name = b"%02d IMG_%02d%03d.jpg" % (10 + i // (FOLDERS * PER_FOLDER), i % FOLDERS, i // FOLDERS % PER_FOLDER)
            assert stat.S_ISDIR((await kernel.lookup(similar, name)).st_mode)
        assert ops.inodes.held() >= held + 2000
        file_ino = next(i for i in kernel.counts if i > FILE_INODE_BASE)
        await kernel.drop_caches()
        assert ops.inodes.held() == 0
        assert ops.inodes.get(file_ino) is None
        assert len(ops.inodes) <= base + ops.inodes.unheld_kept
        assert len(ops.listings) <= 1  # only folders the kernel holds keep a cached listing (and the root)
        # the kernel may still ask about a library file it was given (NFS): rebuilt from its row
        attrs = await ops.getattr(file_ino)
        assert attrs.st_ino == file_ino and stat.S_ISREG(attrs.st_mode)
        with pytest.raises(pyfuse3.FUSEError) as exc:
            await ops.getattr(FILE_INODE_BASE + 10_000_000)
        assert exc.value.errno == errno.ENOENT
        # and browsing again works and gives the files the same numbers
        src = await kernel.lookup(ROOT_INODE, b"sources")
        again = {a.st_ino for _, a in await kernel.listdir((await kernel.lookup(src.st_ino, b"photos")).st_ino)}
        assert again and all(ops.inodes.get(i) is not None for i in again)

    trio.run(main)
    ops.close()


def test_open_handles_outlive_a_forget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _library(tmp_path)
    (paths.root / "journal").mkdir()
    ops = _ops(paths)
    kernel = Kernel(ops, monkeypatch)

    async def main() -> None:
        await ops.check_generation()
        src = await kernel.lookup(ROOT_INODE, b"sources")
        photos = await kernel.lookup(src.st_ino, b"photos")
        d0 = await kernel.lookup(photos.st_ino, b"d0")
        f = await kernel.lookup(d0.st_ino, b"IMG_00000.jpg")
        info = await ops.open(f.st_ino, os.O_RDONLY, None)
        dir_fh = await ops.opendir(d0.st_ino, None)
        await kernel.drop_caches()
        assert await ops.read(info.fh, 0, 4) == b"\xff\xd8no"
        token: list[tuple[bytes, Any]] = []
        await ops.readdir(dir_fh, 0, token)
        assert len(token) == PER_FOLDER
        assert all(ops.inodes.count(a.st_ino) == 1 for _, a in token)  # readdirplus counted them again
        await ops.releasedir(dir_fh)
        await ops.release(info.fh)

    trio.run(main)
    ops.close()


def test_journal_numbers_are_never_given_to_another_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _library(tmp_path)
    journal = paths.root / "journal"
    journal.mkdir()
    ops = _ops(paths)
    kernel = Kernel(ops, monkeypatch)

    async def main() -> None:
        await ops.check_generation()
        jino = (await kernel.lookup(ROOT_INODE, b"journal")).st_ino
        info, first = await ops.create(jino, b"a.md", 0o644, os.O_WRONLY, None)
        kernel.took(first.st_ino)
        await ops.release(info.fh)
        real = os.stat(journal / "a.md").st_ino
        await ops.unlink(jino, b"a.md", None)
        info, second = await ops.create(jino, b"a.md", 0o644, os.O_WRONLY, None)
        kernel.took(second.st_ino)
        await ops.release(info.fh)
        # whether or not the real filesystem reused the st_ino, the mount gives the new file a new number
        print("real st_ino reused:", os.stat(journal / "a.md").st_ino == real)
        assert second.st_ino != first.st_ino
        assert first.generation == second.generation == ops.inodes.epoch != 0
        again = await kernel.lookup(jino, b"a.md")
        assert again.st_ino == second.st_ino  # the same file keeps its number
        assert (await kernel.lookup(ROOT_INODE, b"sources")).generation == 0

    trio.run(main)
    ops.close()


def test_only_counted_replies_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Internal lookups (rmdir, unlink, rename find their child first) give the kernel nothing."""
    paths = _library(tmp_path)
    (paths.root / "journal").mkdir()
    ops = _ops(paths)
    kernel = Kernel(ops, monkeypatch)

    async def main() -> None:
        await ops.check_generation()
        albums = (await kernel.lookup(ROOT_INODE, b"by-album")).st_ino
        made = await ops.mkdir(albums, b"Trip", 0o755, None)
        kernel.took(made.st_ino)
        assert ops.inodes.count(made.st_ino) == 1
        await ops.rmdir(albums, b"Trip", None)
        assert ops.inodes.count(made.st_ino) == 1  # rmdir's own lookup was not a reply
        await kernel.drop_caches()
        assert ops.inodes.held() == 0

    trio.run(main)
    ops.close()


def test_listing_cache_is_bounded_by_entries_least_recently_used_first() -> None:
    from gallerfs.fs.fuseutil import Listing
    from gallerfs.fs.listing_cache import ListingCache

    def listing(n: int) -> Listing:
        names = [b"%d" % i for i in range(n)]
        return Listing(names, list(range(n)), [None] * n, {}, [None] * n)  # type: ignore[list-item]

    cache = ListingCache(max_entries=100)
    for ino in range(1, 5):
        cache.put(ino, listing(30))
    assert list(cache) == [2, 3, 4] and cache.entries() == 90
    assert cache.get(2) is not None  # used: now the most recent
    cache.put(5, listing(30))
    assert list(cache) == [4, 2, 5]
    cache.put(6, listing(500))  # bigger than the bound: kept alone
    assert list(cache) == [6] and cache.entries() == 500
    assert cache.pop(6) is not None and not cache and cache.entries() == 0
