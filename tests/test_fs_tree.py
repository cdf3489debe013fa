"""The virtual tree as pure code: names, suffixes, and listings straight from a library, no FUSE."""

from __future__ import annotations


import pytest

from gallerfs.config import Settings
from gallerfs.db.connection import Database
from gallerfs.db.tree import FileRow
from gallerfs.fs.library_dirs import ByDateRoot, SourcesRoot
from gallerfs.fs.nodes import DirNode, LibraryFile, Memo, TreeContext, strip_suffix, unique_names, with_suffix
from gallerfs.fs.toplevel import TOP_LEVEL, RootDir
from gallerfs.paths import LibraryPaths
from tests.mountutil import build_library


def row(id: int, name: bytes) -> FileRow:
    return FileRow(id, 1, name, 10, 0, 0)


def test_suffixes() -> None:
    assert with_suffix(b"IMG_0001.jpg", 2) == b"IMG_0001 (2).jpg"
    assert with_suffix(b".hidden", 3) == b".hidden (3)"
    assert with_suffix(b"noext", 2) == b"noext (2)"
    assert strip_suffix(b"IMG_0001 (2).jpg") == b"IMG_0001.jpg"
    assert strip_suffix(b"IMG (x).jpg") == b"IMG (x).jpg"


def test_unique_names_are_deterministic_and_never_collide() -> None:
    rows = [row(7, b"a.jpg"), row(3, b"a.jpg"), row(5, b"a (2).jpg"), row(9, b"a.jpg"), row(1, b"b.jpg")]
    names = unique_names(rows)
    assert [(n, r.id) for n, r in names] == [
        (b"a (2).jpg", 5), (b"a (3).jpg", 7), (b"a (4).jpg", 9), (b"a.jpg", 3), (b"b.jpg", 1)
    ]  # fmt: skip
    assert unique_names(list(reversed(rows))) == names
    assert [n for n, _ in unique_names([row(1, b"x")], taken=[b"x"])] == [b"x (2)"]


def test_every_top_level_directory_is_one_registered_class() -> None:
    root = RootDir(b"/nonexistent")
    assert [e.name for e in root.list(None)] == [name for name, _ in TOP_LEVEL]  # type: ignore[arg-type]
    assert all(isinstance(e.node, DirNode) for e in root.list(None))  # type: ignore[arg-type]
    assert len({e.node.key for e in root.list(None)}) == len(TOP_LEVEL)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> TreeContext:
    library, _ = build_library(tmp_path_factory.mktemp("fstree"))
    db = Database(library / "library.sqlite3", readonly=True)
    return TreeContext(db, Memo(0), LibraryPaths(library, library / "config.toml"), Settings())


def walk(ctx: TreeContext, node: DirNode, prefix: bytes = b"") -> dict[bytes, LibraryFile]:
    out = {}
    for e in node.list(ctx):
        if isinstance(e.node, DirNode):
            out.update(walk(ctx, e.node, prefix + e.name + b"/"))
        else:
            out[prefix + e.name] = e.node
    return out


def test_sources_and_by_date_list_every_file_once(ctx: TreeContext) -> None:
    sources = walk(ctx, SourcesRoot())
    by_date = walk(ctx, ByDateRoot())
    assert len(sources) == len(by_date) == 9
    assert sorted(f.row.id for f in sources.values()) == sorted(f.row.id for f in by_date.values())
    assert b"photos/trip/a/IMG_0001.jpg" in sources
    assert {b"2008/05/30/IMG_0001.jpg", b"2008/05/30/IMG_0001 (2).jpg"} <= set(by_date)


def test_reader_connections_do_not_leak_when_threads_come_and_go(ctx: TreeContext) -> None:
    import threading

    from gallerfs.fs.readers import ReaderLoans

    loans = ReaderLoans(ctx.paths.db)
    try:
        for _ in range(20):  # like trio's worker threads: each lives for a while, then exits
            t = threading.Thread(target=lambda: loans.get().value("SELECT count(*) FROM files"))
            t.start()
            t.join()
        assert loans.open_connections <= 2
        results = []
        workers = [threading.Thread(target=lambda: results.append(loans.lend(lambda: loans.get().value("SELECT 1"))))
                   for _ in range(8)]  # fmt: skip
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        assert results == [1] * 8 and loans.open_connections <= 9
    finally:
        loans.close()
