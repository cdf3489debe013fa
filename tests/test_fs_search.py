"""The mount's ``search/`` end to end: a real library of colour photos, the test CLIP model, a real FUSE mount."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from gallerfs.db import search_history as sh
from gallerfs.db.connection import Database
from gallerfs.fs.nodes import FILE_INODE_BASE
from gallerfs.fs.search_dir import query_of, rank_name
from gallerfs.search import NO_MODEL_MESSAGE
from tests import clipmodel
from tests.mountutil import Mount, run_gallerfs, wait_until

COLOURS = ("red", "green", "blue")
PER_COLOUR = 3


def _photos(root: Path) -> Path:
    photos = root / "Photos"
    photos.mkdir()
    for c, colour in enumerate(COLOURS):
        for i in range(PER_COLOUR):
            clipmodel.colour_photo(photos / f"{colour}{i}.jpg", colour, c * 10 + i, size=(320, 240))
    # The same name as a red photo, in another folder: a ranked name stays unique by its rank.
    (photos / "more").mkdir()
    clipmodel.colour_photo(photos / "more" / "red0.jpg", "red", 99, size=(320, 240))
    return photos


def _library(tmp_path: Path, with_model: bool) -> tuple[Path, Path]:
    library = tmp_path / "library"
    library.mkdir()
    (library / "config.toml").write_text("workers = 2\nbatch_size = 8\n")
    photos = _photos(tmp_path)
    run_gallerfs(library, "add", str(photos))
    if with_model:
        folder = tmp_path / "model-files"
        manifest = clipmodel.write_model_dir(folder)
        run_gallerfs(library, "models", "import", str(folder), "--manifest", str(manifest))
    run_gallerfs(library, "index")
    return library, photos


def _ls(mnt: Mount, *parts: str) -> list[str]:
    """A listing in the order the mount gives it."""
    return [os.fsdecode(n) for n in os.listdir(mnt.p(*parts))]


def _original(photos: Path, ranked_name: str, data: bytes) -> Path:
    """The original a ranked entry shows: same name, same bytes."""
    name = ranked_name.split(" ", 1)[1]
    candidates = [p for p in photos.rglob(name) if p.read_bytes() == data]
    assert len(candidates) == 1, (ranked_name, candidates)
    return candidates[0]


def test_search_folder_ranks_reads_and_remembers(tmp_path: Path) -> None:
    library, photos = _library(tmp_path, with_model=True)
    mnt_path = tmp_path / "mnt"
    with Mount(library, mnt_path) as mnt:
        assert "search" in os.listdir(mnt.path)
        assert _ls(mnt, "search") == []

        started = time.monotonic()
        names = _ls(mnt, "search", "red")
        first_query_s = time.monotonic() - started
        reds = [n for n in names if n.split(" ", 1)[1].startswith("red")]
        assert len(reds) == PER_COLOUR + 1
        assert names[: len(reds)] == reds, names  # every red photo ranks above every other
        assert names == sorted(names)  # name order is rank order
        assert [n.split(" ", 1)[0] for n in names] == [f"{i:02d}" for i in range(1, len(names) + 1)]
        assert sum(n.endswith(" red0.jpg") for n in names) == 2  # two originals named red0.jpg
        seen = set()
        for name in names:
            st = os.stat(mnt.p("search", "red", name))
            data = Path(os.fsdecode(mnt.p("search", "red", name))).read_bytes()
            original = _original(photos, name, data)
            assert st.st_size == original.stat().st_size
            seen.add(original)
        assert len(seen) == len(names)

        blues = _ls(mnt, "search", "blue")
        assert blues[0].split(" ", 1)[1].startswith("blue")
        assert set(_ls(mnt, "search")) == {"red", "blue"}

        # similar/<file id or unique name>/: the nearest photos, the photo itself left out.
        assert _ls(mnt, "similar") == ["README.txt"]
        blue0 = [n for n in blues if n.endswith(" blue0.jpg")][0]
        blue0_id = os.stat(mnt.p("search", "blue", blue0)).st_ino - FILE_INODE_BASE
        near = _ls(mnt, "similar", str(blue0_id))
        assert {n.split(" ", 1)[1] for n in near[:2]} == {"blue1.jpg", "blue2.jpg"}
        assert not any(n.endswith(" blue0.jpg") for n in near) and near == sorted(near)
        assert _ls(mnt, "similar", "blue0.jpg") == near
        data = Path(os.fsdecode(mnt.p("similar", "blue0.jpg", near[0]))).read_bytes()
        assert data == (photos / near[0].split(" ", 1)[1]).read_bytes()
        for unknown in ("red0.jpg", "999999", "nothing.jpg"):  # two files named red0.jpg; no such id; no such name
            with pytest.raises(FileNotFoundError):
                os.listdir(mnt.p("similar", unknown))

        # Probes by file managers are not queries and are never remembered.
        for probe in (".hidden", ".directory"):
            with pytest.raises(FileNotFoundError):
                os.stat(mnt.p("search", probe))
        # Every name under search/ exists, so mkdir says so; the query is remembered all the same
        # (mkdir -p succeeds).
        with pytest.raises(FileExistsError):
            os.mkdir(mnt.p("search", "green grass"))
        assert _ls(mnt, "search", "green grass")[0].split(" ", 1)[1].startswith("green")
        assert set(_ls(mnt, "search")) == {"red", "blue", "green grass"}
        with pytest.raises(OSError) as exc:
            os.mkdir(mnt.p("search", "red", "sub"))
        assert exc.value.errno == errno.EROFS
        with pytest.raises(OSError) as exc:
            os.unlink(mnt.p("search", "red", names[0]))
        assert exc.value.errno == errno.EROFS

    with Mount(library, mnt_path) as mnt:  # remembered across mounts
        assert set(_ls(mnt, "search")) == {"red", "blue", "green grass"}
        os.rmdir(mnt.p("search", "blue"))
        assert set(_ls(mnt, "search")) == {"red", "green grass"}
        assert _ls(mnt, "search", "red") == names  # the same ranking again
        # Results follow the library: a red photo indexed while mounted joins the ranking.
        clipmodel.colour_photo(photos / "red_new.jpg", "red", 77, size=(320, 240))
        run_gallerfs(library, "index")
        assert wait_until(lambda: any(n.endswith(" red_new.jpg") for n in _ls(mnt, "search", "red")[: len(reds) + 1]))
        assert len(_ls(mnt, "search", "red")) == len(names) + 1

    with Mount(library, mnt_path) as mnt:
        assert set(_ls(mnt, "search")) == {"red", "green grass"}
    print(f"first query through the mount: {first_query_s:.3f} s")
    assert first_query_s < 10


def test_search_without_model_explains_and_fails_cleanly(tmp_path: Path) -> None:
    library, _ = _library(tmp_path, with_model=False)
    with Mount(library, tmp_path / "mnt") as mnt:
        assert _ls(mnt, "search") == ["README.txt"]
        text = Path(os.fsdecode(mnt.p("search", "README.txt"))).read_text()
        assert NO_MODEL_MESSAGE in text
        assert os.stat(mnt.p("search", "README.txt")).st_size == len(text.encode())
        started = time.monotonic()
        with pytest.raises(FileNotFoundError):
            _ls(mnt, "search", "red")
        with pytest.raises(FileNotFoundError):
            os.mkdir(mnt.p("search", "red"))
        with pytest.raises(FileNotFoundError):  # nothing embedded
            os.listdir(mnt.p("similar", "red1.jpg"))
        assert time.monotonic() - started < 2
        assert _ls(mnt, "search") == ["README.txt"]


def test_rank_names_sort_by_rank() -> None:
    assert rank_name(1, 9, b"IMG_0042.jpg") == b"01 IMG_0042.jpg"
    assert rank_name(99, 99, b"a.jpg") == b"99 a.jpg"
    names = [rank_name(n, 150, b"z.jpg" if n % 2 else b"a.jpg") for n in range(1, 151)]
    assert names[0] == b"001 z.jpg" and names[-1] == b"150 a.jpg"
    assert names == sorted(names)


def test_query_names() -> None:
    assert query_of("red car".encode()) == "red car"
    assert query_of("crème brûlée".encode()) == "crème brûlée"
    for name in (b"", b".hidden", b".directory", b"   ", b"caf\xe9", b"x" * 256):
        assert query_of(name) is None, name


def test_history_is_recent_first_bounded_and_forgettable(tmp_path: Path) -> None:
    db = Database(tmp_path / "library.sqlite3")
    try:
        sh.record_query(db, "red", 100.0)
        sh.record_query(db, "blue", 200.0)
        sh.record_query(db, "red", 50.0)  # an older time never moves a query back
        assert sh.recent_queries(db) == ["blue", "red"]
        sh.record_query(db, "red", 300.0)
        assert sh.recent_queries(db) == ["red", "blue"]
        assert sh.forget_query(db, "blue") and not sh.forget_query(db, "blue")
        for i in range(sh.MAX_REMEMBERED + 5):
            sh.record_query(db, f"q{i}", 1000.0 + i)
        kept = sh.recent_queries(db, limit=10_000)
        assert len(kept) == sh.MAX_REMEMBERED and kept[0] == f"q{sh.MAX_REMEMBERED + 4}" and "red" not in kept
    finally:
        db.close()


PROBES = (
    "desktop.ini", "Desktop.ini", "Thumbs.db", ".DS_Store", "autorun.inf", "folder.jpg", "Folder.jpg",
    "AlbumArtSmall.jpg", "AlbumArt_{3A7F}_Large.jpg", ".hidden", ".directory", ".localized", ".Trash",
    ".Trash-0", ".xdg-volume-info", "$RECYCLE.BIN", "System Volume Information",
)  # fmt: skip


def test_only_listing_a_query_runs_and_remembers_it(tmp_path: Path) -> None:
    library, _ = _library(tmp_path, with_model=True)
    with (library / "config.toml").open("a") as fh:
        fh.write("search_history = 3\n")
    with Mount(library, tmp_path / "mnt") as mnt:
        before = _ls(mnt, "search")
        assert before == []
        for probe in PROBES:  # what file managers and SMB clients look up everywhere
            for look in (os.stat, os.listdir):
                with pytest.raises(FileNotFoundError):
                    look(mnt.p("search", probe))
            with pytest.raises(FileNotFoundError):
                os.stat(mnt.p("similar", probe))
        assert _ls(mnt, "search") == before
        # a bare stat (or the first step of cd) answers a folder but runs and remembers nothing
        st = os.stat(mnt.p("search", "anything at all"))
        assert stat.S_ISDIR(st.st_mode)
        assert _ls(mnt, "search") == before
        # probes inside a query folder are not looked for among the results
        with pytest.raises(FileNotFoundError):
            os.stat(mnt.p("search", "red", "desktop.ini"))
        assert _ls(mnt, "search") == before
        # cd then ls: the listing runs the query and remembers it
        reds = _ls(mnt, "search", "red")
        assert reds and reds[0].split(" ", 1)[1].startswith("red")
        assert _ls(mnt, "search") == ["red"]
        # history is capped (search_history = 3): the least recently listed goes first
        for query in ("blue", "yellow", "red"):
            _ls(mnt, "search", query)
        assert wait_until(lambda: _ls(mnt, "search") == ["red", "yellow", "blue"])
    db = Database(library / "library.sqlite3", readonly=True)
    try:
        assert wait_until(lambda: sh.recent_queries(db, limit=100) == ["red", "yellow", "blue"])
    finally:
        db.close()


def test_probe_names() -> None:
    from gallerfs.fs.search_dir import is_probe

    for name in PROBES:
        assert is_probe(name.encode()) and query_of(name.encode()) is None, name
    for name in ("red car", "desk", "thumbs up", "folder of photos"):
        assert not is_probe(name.encode()) and query_of(name.encode()) == name


def test_handlers_run_a_query_on_opendir_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rules called on the Operations class directly, counting the queries that run."""
    import pyfuse3
    import trio

    from gallerfs import config
    from gallerfs.fs import search_dir
    from gallerfs.fs.inodes import ROOT_INODE
    from gallerfs.fs.operations import Operations
    from gallerfs.paths import LibraryPaths

    library, _ = _library(tmp_path, with_model=True)
    paths = LibraryPaths(root=library, config_file=library / "config.toml")
    (library / "journal").mkdir(exist_ok=True)
    ops = Operations(paths, config.load(paths.config_file), library / "journal")
    ran: list[str] = []
    real = search_dir.run_query
    monkeypatch.setattr(search_dir, "run_query", lambda ctx, query: ran.append(query) or real(ctx, query))

    async def main() -> None:
        await ops.check_generation()
        search = (await ops.lookup(ROOT_INODE, b"search")).st_ino
        for probe in PROBES:
            with pytest.raises(pyfuse3.FUSEError):
                await ops.lookup(search, probe.encode())
        red = await ops.lookup(search, b"red")
        with pytest.raises(pyfuse3.FUSEError):
            await ops.lookup(red.st_ino, b"Thumbs.db")
        recorder = ops.root.entries[4].node.recorder
        assert ran == [] and recorder.recent == {}
        # a result can be opened by its path in a folder not listed yet: the query runs, unremembered
        first = (await ops.in_thread(lambda: search_dir.SearchQueryDir("red").list(ops.context())))[0].name
        ran.clear()
        found = await ops.lookup(red.st_ino, first)
        assert stat.S_ISREG(found.st_mode) and ran == ["red"] and recorder.recent == {}
        fh = await ops.opendir(red.st_ino, None)
        await ops.releasedir(fh)
        assert list(recorder.recent) == ["red"]
        with pytest.raises(pyfuse3.FUSEError):
            await ops.mkdir(search, b"desktop.ini", 0o755, None)

    trio.run(main)
    ops.close()
