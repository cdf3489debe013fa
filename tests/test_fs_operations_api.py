"""The FUSE handlers called directly, without the kernel (as s3ql's ``tests/t3_fs_api.py`` does).

``FuseOperations`` is built from the mount's own parts (``mount.build_parts``)
over a real library, and its handlers are awaited under trio the way pyfuse3
calls them. The kernel's side is a ``Kernel`` double: ``readdir_reply``
collects entries, and the invalidations the mount sends are recorded instead
of reaching a FUSE channel. Both providers are covered: the virtual tree
(by-album, favourites, sources, read-only folders) and the journal
passthrough. What needs the kernel (caching, readdirplus, real programs) stays
in the real-mount tests (``test_fs_mount.py``, ``test_fs_albums.py``,
``test_fs_journal.py``…).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import stat
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pyfuse3
import pytest
import trio

from gallerfs import config
from gallerfs.fs.inodes import ROOT_INODE
from gallerfs.fs.mount import build_parts
from gallerfs.fs.operations import FuseOperations
from gallerfs.fs.toplevel import TOP_LEVEL
from gallerfs.paths import LibraryPaths
from gallerfs.renameat import RENAME_NOREPLACE
from tests.conftest import run_gallerfs

FILES = {"cams/A.jpg": b"\xff\xd8 the first photo " * 40, "cams/B.jpg": b"\xff\xd8 the second photo " * 30,
         "trip/C.jpg": b"\xff\xd8 the third photo " * 20}  # fmt: skip


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library indexed once per module (scan only: names, sizes, dates from mtimes)."""
    root = tmp_path_factory.mktemp("fsapi")
    for rel, data in FILES.items():
        (root / "photos" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "photos" / rel).write_bytes(data)
    library = root / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 1\n")
    run_gallerfs(library, "add", "--name", "photos", str(root / "photos"))
    run_gallerfs(library, "index", "--scan-only")
    return library


class Kernel:
    """What pyfuse3 and the kernel do around the handlers: replies collected, notifications recorded."""

    def __init__(self, ops: FuseOperations, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ops = ops
        self.invalidated_entries: list[tuple[int, bytes]] = []
        self.invalidated_inodes: list[int] = []
        monkeypatch.setattr(pyfuse3, "readdir_reply", self._reply)
        monkeypatch.setattr(pyfuse3, "invalidate_entry_async", self._invalidate_entry)
        monkeypatch.setattr(pyfuse3, "invalidate_inode", self._invalidate_inode)

    @staticmethod
    def _reply(token: list[tuple[bytes, Any]], name: bytes, attrs: Any, next_id: int) -> bool:
        token.append((name, attrs))
        return True

    def _invalidate_entry(self, parent: int, name: bytes, deleted: int = 0, ignore_enoent: bool = False) -> None:
        self.invalidated_entries.append((parent, name))

    def _invalidate_inode(self, inode: int, attr_only: bool = False) -> None:
        self.invalidated_inodes.append(inode)

    async def listdir(self, ino: int) -> dict[bytes, Any]:
        fh = await self.ops.opendir(ino, None)
        token: list[tuple[bytes, Any]] = []
        await self.ops.readdir(fh, 0, token)
        await self.ops.releasedir(fh)
        return dict(token)

    async def walk(self, *names: bytes) -> int:
        """The inode at ROOT/names..., looked up one step at a time (each step counted, as the kernel does)."""
        ino = ROOT_INODE
        for name in names:
            ino = (await self.ops.lookup(ino, name, None)).st_ino
        return ino

    async def read_all(self, ino: int) -> bytes:
        info = await self.ops.open(ino, os.O_RDONLY, None)
        try:
            out, off = b"", 0
            while chunk := bytes(await self.ops.read(info.fh, off, 7)):
                out, off = out + chunk, off + len(chunk)
            return out
        finally:
            await self.ops.release(info.fh)


def fuse_errno(fn: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[int]]:
    """An awaitable that gives the errno the handler answered with (and fails if it answered at all)."""

    async def run() -> int:
        with pytest.raises(pyfuse3.FUSEError) as exc:
            await fn()
        return exc.value.errno

    return run


@pytest.fixture
def mounted(indexed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FuseOperations, Kernel, Path]]:
    """A fresh copy of the library, its journal folder, and the dispatcher built from the mount's parts."""
    library = tmp_path / "library"
    shutil.copytree(indexed, library)
    journal = library / "journal"  # the default journal_dir: templates are written only there
    journal.mkdir()
    paths = LibraryPaths(root=library, config_file=library / "config.toml")
    ops = FuseOperations(build_parts(paths, config.load(paths.config_file), journal, xattrs=True))
    kernel = Kernel(ops, monkeypatch)
    yield ops, kernel, journal
    ops.close()


def run(ops: FuseOperations, test: Callable[[], Awaitable[None]]) -> None:
    async def main() -> None:
        await ops.check_generation()  # what the mount does before serving
        await test()

    trio.run(main)


# -- the virtual tree ---------------------------------------------------------------
def test_root_lookups_listing_and_reference_counts(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        root = await kernel.listdir(ROOT_INODE)
        assert list(root) == [name for name, _ in TOP_LEVEL]
        assert all(stat.S_ISDIR(a.st_mode) for a in root.values())
        assert stat.S_ISDIR((await ops.getattr(ROOT_INODE, None)).st_mode)
        albums = await ops.lookup(ROOT_INODE, b"by-album", None)
        assert albums.st_ino == root[b"by-album"].st_ino and albums.generation == 0
        held = ops.inodes.count(albums.st_ino)
        assert (await ops.lookup(albums.st_ino, b".", None)).st_ino == albums.st_ino
        assert (await ops.lookup(albums.st_ino, b"..", None)).st_ino == ROOT_INODE
        assert ops.inodes.count(albums.st_ino) == held + 1  # '.' is a reply too
        assert await fuse_errno(lambda: ops.lookup(ROOT_INODE, b"nothing-here", None))() == errno.ENOENT
        assert await fuse_errno(lambda: ops.getattr(123_456_789, None))() == errno.ENOENT

    run(ops, test)


def test_sources_open_read_and_release(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        cams = await kernel.walk(b"sources", b"photos", b"cams")
        listed = await kernel.listdir(cams)
        assert sorted(listed) == [b"A.jpg", b"B.jpg"]
        a = await ops.lookup(cams, b"A.jpg", None)
        assert a.st_size == len(FILES["cams/A.jpg"]) and stat.S_ISREG(a.st_mode)
        assert a.st_ino == listed[b"A.jpg"].st_ino  # one number wherever it is listed
        assert await kernel.read_all(a.st_ino) == FILES["cams/A.jpg"]
        info = await ops.open(a.st_ino, os.O_RDONLY, None)
        assert info.keep_cache and not info.direct_io  # unchanged since indexed: the kernel keeps its pages
        assert bytes(await ops.read(info.fh, 5, 10)) == FILES["cams/A.jpg"][5:15]
        await ops.release(info.fh)
        assert await fuse_errno(lambda: ops.read(info.fh, 0, 10))() == errno.EBADF
        # the kernel forgets everything it was given: the file's node goes, and comes back from its row
        await ops.forget([(ino, ops.inodes.count(ino)) for ino in (a.st_ino, cams)])
        assert ops.inodes.get(a.st_ino) is None
        assert (await ops.getattr(a.st_ino, None)).st_size == len(FILES["cams/A.jpg"])

    run(ops, test)


def test_album_mkdir_link_rename_unlink_rmdir(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        albums = await kernel.walk(b"by-album")
        cams = await kernel.walk(b"sources", b"photos", b"cams")
        a = await ops.lookup(cams, b"A.jpg", None)
        trip = await ops.mkdir(albums, b"Trip", 0o755, None)
        assert stat.S_ISDIR(trip.st_mode) and ops.inodes.count(trip.st_ino) == 1
        assert await fuse_errno(lambda: ops.mkdir(albums, b"Trip", 0o755, None))() == errno.EEXIST
        assert await fuse_errno(lambda: ops.mkdir(albums, b"\xff\xfe", 0o755, None))() == errno.EINVAL

        linked = await ops.link(a.st_ino, trip.st_ino, b"A.jpg", None)
        assert linked.st_ino == a.st_ino and ops.inodes.count(a.st_ino) == 2
        member = await ops.lookup(trip.st_ino, b"A.jpg", None)
        assert member.st_ino != a.st_ino  # a member has its own number inside the album
        assert await kernel.read_all(member.st_ino) == FILES["cams/A.jpg"]

        await ops.rename(albums, b"Trip", albums, b"Holiday", 0, None)
        assert (albums, b"Trip") in kernel.invalidated_entries
        assert sorted(await kernel.listdir(albums)) == [b"Holiday"]
        holiday = await ops.lookup(albums, b"Holiday", None)
        assert holiday.st_ino == trip.st_ino  # the same album, the same folder
        assert list(await kernel.listdir(holiday.st_ino)) == [b"A.jpg"]
        assert await fuse_errno(lambda: ops.rename(albums, b"Holiday", albums, b"X", RENAME_NOREPLACE, None))() == errno.EINVAL
        assert await fuse_errno(lambda: ops.rmdir(albums, b"Holiday", None))() == errno.ENOTEMPTY

        await ops.unlink(holiday.st_ino, b"A.jpg", None)
        assert await kernel.listdir(holiday.st_ino) == {}
        assert await fuse_errno(lambda: ops.unlink(holiday.st_ino, b"A.jpg", None))() == errno.ENOENT
        assert (await ops.lookup(cams, b"A.jpg", None)).st_ino == a.st_ino  # the original stays in the library
        await ops.rmdir(albums, b"Holiday", None)
        assert await kernel.listdir(albums) == {}
        assert await fuse_errno(lambda: ops.rmdir(albums, b"Holiday", None))() == errno.ENOENT

    run(ops, test)


def test_favourites_link_and_unlink(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        favourites = await kernel.walk(b"favourites")
        trip = await kernel.walk(b"sources", b"photos", b"trip")
        c = await ops.lookup(trip, b"C.jpg", None)
        await ops.link(c.st_ino, favourites, b"C.jpg", None)
        assert list(await kernel.listdir(favourites)) == [b"C.jpg"]
        # another name for the same file: the listing keeps the file's own name, the kernel forgets the other
        await ops.link(c.st_ino, favourites, b"other.jpg", None)
        assert (favourites, b"other.jpg") in kernel.invalidated_entries
        assert list(await kernel.listdir(favourites)) == [b"C.jpg"]
        await ops.unlink(favourites, b"C.jpg", None)
        assert await kernel.listdir(favourites) == {}

    run(ops, test)


def test_a_copy_into_an_album_is_recognised_not_stored(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        albums = await kernel.walk(b"by-album")
        trip = await ops.mkdir(albums, b"Trip", 0o755, None)
        data = FILES["cams/B.jpg"]
        info, upload = await ops.create(trip.st_ino, b"B.jpg", 0o644, os.O_WRONLY, None)
        assert info.direct_io and upload.st_size == 0
        assert (await ops.lookup(trip.st_ino, b"B.jpg", None)).st_ino == upload.st_ino  # seen while being copied
        for off in range(0, len(data), 100):
            assert await ops.write(info.fh, off, data[off : off + 100]) == len(data[off : off + 100])
        await ops.flush(info.fh)
        await ops.release(info.fh)
        assert list(await kernel.listdir(trip.st_ino)) == [b"B.jpg"]
        assert await kernel.read_all((await ops.lookup(trip.st_ino, b"B.jpg", None)).st_ino) == data

        info, _ = await ops.create(trip.st_ino, b"A.jpg", 0o644, os.O_WRONLY, None)  # a library name, other bytes
        await ops.write(info.fh, 0, b"not the library's photo")
        assert await fuse_errno(lambda: ops.flush(info.fh))() == errno.EROFS
        await ops.release(info.fh)
        assert list(await kernel.listdir(trip.st_ino)) == [b"B.jpg"]

    run(ops, test)


def test_read_only_folders_refuse_writes(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        cams = await kernel.walk(b"sources", b"photos", b"cams")
        by_date = await kernel.walk(b"by-date")
        status = await kernel.walk(b".gallerfs")
        readme = await ops.lookup(status, b"README", None)
        assert await fuse_errno(lambda: ops.mkdir(by_date, b"2030", 0o755, None))() == errno.EROFS
        assert await fuse_errno(lambda: ops.unlink(cams, b"A.jpg", None))() == errno.EROFS
        assert await fuse_errno(lambda: ops.create(cams, b"new.jpg", 0o644, os.O_WRONLY, None))() == errno.EROFS
        assert await fuse_errno(lambda: ops.open(readme.st_ino, os.O_WRONLY, None))() == errno.EROFS
        assert await fuse_errno(lambda: ops.open(cams, os.O_RDONLY, None))() == errno.EISDIR
        assert await fuse_errno(lambda: ops.rename(cams, b"A.jpg", by_date, b"A.jpg", 0, None))() == errno.EXDEV
        assert await fuse_errno(lambda: ops.readlink(readme.st_ino, None))() == errno.EINVAL
        assert (await kernel.read_all(readme.st_ino)).startswith(b"gallerfs status")

    run(ops, test)


def test_library_xattrs(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, _ = mounted

    async def test() -> None:
        cams = await kernel.walk(b"sources", b"photos", b"cams")
        a = await ops.lookup(cams, b"A.jpg", None)
        names = await ops.listxattr(a.st_ino, None)
        assert b"user.gallerfs.id" in names and b"user.gallerfs.source" in names
        assert await ops.getxattr(a.st_ino, b"user.gallerfs.source", None) == b"photos"
        assert await fuse_errno(lambda: ops.getxattr(a.st_ino, b"security.selinux", None))() == pyfuse3.ENOATTR
        assert await fuse_errno(lambda: ops.setxattr(a.st_ino, b"user.x", b"1", None))() == errno.EROFS
        ops.config.xattrs = False  # the default: the kernel is told once that there are none
        assert await fuse_errno(lambda: ops.getxattr(a.st_ino, b"user.gallerfs.id", None))() == errno.ENOSYS

    run(ops, test)


# -- the journal passthrough -----------------------------------------------------------
def test_journal_create_write_rename_unlink(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, journal = mounted

    async def test() -> None:
        jino = await kernel.walk(b"journal")
        assert ops.provider_of(ops.inodes.node(jino)) is ops.journal
        info, note = await ops.create(jino, b"notes.md", 0o644, os.O_WRONLY, None)
        assert info.keep_cache and not info.direct_io  # a plain file, cached as pyfuse3 does by default
        assert ops.inodes.count(note.st_ino) == 1  # create's reply is a reference
        assert await ops.write(info.fh, 0, b"# notes\n") == 8
        await ops.fsync(info.fh, False)
        await ops.release(info.fh)
        assert (journal / "notes.md").read_bytes() == b"# notes\n"
        assert (await ops.getattr(note.st_ino, None)).st_size == 8
        assert await kernel.read_all(note.st_ino) == b"# notes\n"
        assert b"_photos" in await kernel.listdir(jino)  # the day folders of photos, inside the journal

        (journal / "taken.md").write_text("already here\n")
        assert await fuse_errno(lambda: ops.rename(jino, b"notes.md", jino, b"taken.md", RENAME_NOREPLACE, None))() == errno.EEXIST
        await ops.rename(jino, b"notes.md", jino, b"renamed.md", 0, None)
        assert sorted(p.name for p in journal.iterdir()) == ["renamed.md", "taken.md"]
        renamed = await ops.lookup(jino, b"renamed.md", None)
        assert renamed.st_ino == note.st_ino  # renamed, still the same file
        assert await fuse_errno(lambda: ops.lookup(jino, b"notes.md", None))() == errno.ENOENT

        sub = await ops.mkdir(jino, b"drafts", 0o755, None)
        assert stat.S_ISDIR(sub.st_mode) and (journal / "drafts").is_dir()
        linked = await ops.link(renamed.st_ino, sub.st_ino, b"hard.md", None)
        assert linked.st_nlink == 2 and (journal / "drafts" / "hard.md").read_bytes() == b"# notes\n"
        await ops.unlink(sub.st_ino, b"hard.md", None)
        await ops.rmdir(jino, b"drafts", None)
        await ops.unlink(jino, b"renamed.md", None)
        assert [p.name for p in journal.iterdir()] == ["taken.md"]
        assert await fuse_errno(lambda: ops.mkdir(jino, b"a/b", 0o755, None))() == errno.EINVAL

    run(ops, test)


def test_journal_setattr_and_xattrs_reach_the_real_file(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, journal = mounted
    (journal / "a.md").write_text("some text\n")

    async def test() -> None:
        a = await kernel.walk(b"journal", b"a.md")
        attr, fields = pyfuse3.EntryAttributes(), _Fields(update_size=True, update_mode=True)
        attr.st_size, attr.st_mode = 4, stat.S_IFREG | 0o600
        after = await ops.setattr(a, attr, fields, None, None)
        assert after.st_size == 4 and stat.S_IMODE(after.st_mode) == 0o600
        assert (journal / "a.md").read_text() == "some" and stat.S_IMODE((journal / "a.md").stat().st_mode) == 0o600
        await ops.setxattr(a, b"user.colour", b"blue", None)
        assert os.getxattr(journal / "a.md", "user.colour") == b"blue"
        assert await ops.getxattr(a, b"user.colour", None) == b"blue"
        assert b"user.colour" in await ops.listxattr(a, None)
        await ops.removexattr(a, b"user.colour", None)
        assert os.listxattr(journal / "a.md") == []

    run(ops, test)


def test_a_new_empty_entry_gets_its_template_after_release(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, journal = mounted

    async def test() -> None:
        jino = await kernel.walk(b"journal")
        info, _ = await ops.create(jino, b"2024-07-14.md", 0o644, os.O_WRONLY, None)  # 'touch' of a new entry
        await ops.release(info.fh)
        entry = journal / "2024-07-14.md"
        with trio.fail_after(30):  # the template is written by a system task, off the request path
            while (jino, b"2024-07-14.md") not in kernel.invalidated_entries:  # the kernel is told once it is written
                await trio.sleep(0.01)
        assert entry.read_text().startswith("---\n") and "2024-07-14" in entry.read_text()

    run(ops, test)


def test_between_providers_only_exdev(mounted: tuple[FuseOperations, Kernel, Path]) -> None:
    ops, kernel, journal = mounted
    (journal / "sub").mkdir()
    (journal / "note.md").write_text("x\n")

    async def test() -> None:
        jino = await kernel.walk(b"journal")
        sub = await ops.lookup(jino, b"sub", None)
        note = await ops.lookup(jino, b"note.md", None)
        albums = await kernel.walk(b"by-album")
        trip = await ops.mkdir(albums, b"Trip", 0o755, None)
        a = await ops.lookup(await kernel.walk(b"sources", b"photos", b"cams"), b"A.jpg", None)
        assert await fuse_errno(lambda: ops.rename(jino, b"note.md", trip.st_ino, b"note.md", 0, None))() == errno.EXDEV
        assert await fuse_errno(lambda: ops.rename(albums, b"Trip", jino, b"Trip", 0, None))() == errno.EXDEV
        assert await fuse_errno(lambda: ops.link(a.st_ino, sub.st_ino, b"A.jpg", None))() == errno.EXDEV
        assert await fuse_errno(lambda: ops.link(note.st_ino, trip.st_ino, b"note.md", None))() == errno.EXDEV
        assert sorted(p.name for p in journal.iterdir()) == ["note.md", "sub"]
        assert await kernel.listdir(trip.st_ino) == {}

    run(ops, test)


class Recording:
    """A provider that records which handlers it was asked for, then delegates to the real one."""

    def __init__(self, real: Any, calls: list[str]) -> None:
        self.real, self.calls = real, calls

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.real, name)


def test_each_inode_goes_to_its_own_provider(mounted: tuple[FuseOperations, Kernel, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    ops, _, journal = mounted
    (journal / "a.md").write_text("a\n")
    tree_calls: list[str] = []
    journal_calls: list[str] = []
    parts = dataclasses.replace(ops.parts, tree=Recording(ops.tree, tree_calls), journal=Recording(ops.journal, journal_calls))
    recorded = FuseOperations(parts)
    kernel = Kernel(recorded, monkeypatch)

    async def test() -> None:
        jino = await kernel.walk(b"journal")  # the root's listing is the tree's; journal/ itself is the journal's
        assert tree_calls == ["lookup"] and journal_calls == []
        await kernel.read_all((await recorded.lookup(jino, b"a.md", None)).st_ino)
        assert journal_calls == ["lookup", "open", "read", "read", "release"] and tree_calls == ["lookup"]
        photos = await recorded.lookup(jino, b"_photos", None)  # named by the journal, served by the tree
        await kernel.listdir(photos.st_ino)
        assert journal_calls[-1] == "lookup" and tree_calls[-1] == "opendir"
        assert await fuse_errno(lambda: recorded.rename(jino, b"a.md", ROOT_INODE, b"a.md", 0, None))() == errno.EXDEV
        assert tree_calls[-1] == "opendir" and journal_calls[-1] == "lookup"  # refused before either is asked

    run(recorded, test)


class _Fields:
    """A ``pyfuse3.SetattrFields`` as the kernel fills it (pyfuse3's own cannot be built from Python)."""

    def __init__(self, **wanted: bool) -> None:
        for name in ("update_atime", "update_mtime", "update_ctime", "update_mode", "update_uid", "update_gid",
                     "update_size"):  # fmt: skip
            setattr(self, name, wanted.pop(name, False))
        assert not wanted, wanted
