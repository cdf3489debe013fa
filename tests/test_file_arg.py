"""One FILE argument for every command that names a library file: id, original's path, or mount file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gallerfs.cli.file_arg import resolve_file
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.errors import NoSuchFileError
from tests.conftest import run_gallerfs


@pytest.fixture
def lib(tmp_path: Path):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / "sub" / "a.jpg").write_bytes(b"a")
    with Database(tmp_path / "library.sqlite3") as db:
        source = sources_db.add_source(db, name="photos", path=os.fsencode(photos), mount_point=b"/",
                                       fs_uuid=None, fs_type=None, device=1, root_inode=2)  # fmt: skip
        with db.transaction():
            files_db.insert_new(db, source.id, [files_db.ScannedFile(b"sub/a.jpg", "image", 1, 0, 0, 1, 2),
                                                files_db.ScannedFile(b"gone.jpg", "image", 1, 0, 0, 1, 3)])  # fmt: skip
        ids = {bytes(r[1]): int(r[0]) for r in db.tuples("SELECT id, relpath FROM files")}
        yield db, photos, ids


def test_ids_paths_and_links_name_the_same_file(lib, tmp_path: Path, monkeypatch) -> None:
    db, photos, ids = lib
    a = ids[b"sub/a.jpg"]
    assert resolve_file(db, str(a)) == a
    assert resolve_file(db, str(photos / "sub" / "a.jpg")) == a
    monkeypatch.chdir(photos)
    assert resolve_file(db, "sub/a.jpg") == a  # relative to the current folder
    (tmp_path / "link.jpg").symlink_to(photos / "sub" / "a.jpg")
    assert resolve_file(db, str(tmp_path / "link.jpg")) == a
    monkeypatch.setenv("HOME", str(photos))
    assert resolve_file(db, "~/sub/a.jpg") == a


def test_an_original_that_is_not_there_now_is_found_in_the_index(lib) -> None:
    db, photos, ids = lib
    assert resolve_file(db, str(photos / "gone.jpg")) == ids[b"gone.jpg"]  # e.g. on an unplugged drive


def test_a_file_named_like_an_id_is_a_path(lib, tmp_path: Path, monkeypatch) -> None:
    db, photos, ids = lib
    monkeypatch.chdir(photos / "sub")
    os.link("a.jpg", str(ids[b"gone.jpg"]))  # a file called like the other file's id, not indexed
    with pytest.raises(NoSuchFileError, match="not a file of the library"):
        resolve_file(db, str(ids[b"gone.jpg"]))


@pytest.mark.parametrize(
    "arg, message",
    [("987654", r"^no file with id 987654 in the library$"),
     ("99999999999999999999999", r"^no file with id 99999999999999999999999 in the library$"),
     ("²", r"^{tmp}/²: No such file or directory$"),
     ("{tmp}/nowhere.jpg", r"^{tmp}/nowhere.jpg: No such file or directory$"),
     ("{tmp}/photos/sub/new.jpg", r"^{tmp}/photos/sub/new.jpg: not a file of the library$"),
     ("{tmp}/other.jpg", r"^{tmp}/other.jpg: not a file of the library$")],
)  # fmt: skip
def test_what_names_no_library_file_is_one_line(lib, tmp_path: Path, monkeypatch, arg: str, message: str) -> None:
    db, photos, _ = lib
    monkeypatch.chdir(tmp_path)
    (photos / "sub" / "new.jpg").write_bytes(b"new")  # in a source, not indexed yet
    (tmp_path / "other.jpg").write_bytes(b"a")  # a copy outside every source
    with pytest.raises(NoSuchFileError, match=message.format(tmp=tmp_path)):
        resolve_file(db, arg.format(tmp=tmp_path))


def test_every_command_that_takes_a_file_resolves_it_alike(library: Path, tmp_path: Path) -> None:
    """album, favourite, similar and duplicates answer the same one line with exit status 1."""
    run_gallerfs(library, "album", "create", "A")
    missing = str(tmp_path / "missing.jpg")
    for args in (["album", "add", "A", missing], ["favourite", missing], ["similar", missing],
                 ["duplicates", "keep", missing], ["duplicates", "trash", missing]):  # fmt: skip
        proc = run_gallerfs(library, *args, check=False)
        assert (proc.returncode, proc.stderr) == (1, f"gallerfs: {missing}: No such file or directory\n"), args


def test_a_mount_file_is_named_by_its_inode_or_else_by_its_original(lib, monkeypatch) -> None:
    from types import SimpleNamespace

    from gallerfs import mountguard
    from gallerfs.cli.file_arg import _mount_file
    from gallerfs.fs.nodes import FILE_INODE_BASE

    db, _, ids = lib
    a, gone = ids[b"sub/a.jpg"], ids[b"gone.jpg"]
    monkeypatch.setattr(mountguard, "gallerfs_mounts", lambda: mountguard.GallerfsMounts(frozenset(), frozenset({77})))

    def st(file_id: int, size: int = 1, dev: int = 77) -> SimpleNamespace:
        return SimpleNamespace(st_ino=FILE_INODE_BASE + file_id, st_dev=dev, st_size=size, st_mtime_ns=0)

    assert _mount_file(db, b"/m/by-date/2024/01/01/x.jpg", st(a)) == a
    assert _mount_file(db, b"/m/sources/photos/sub/a.jpg", st(a, dev=5)) is None  # not a gallerfs mount
    assert _mount_file(db, b"/m/.gallerfs/stats.json", SimpleNamespace(st_ino=9, st_dev=77)) is None
    # Another library's mount: its ids mean nothing here, the original's name, size and time do.
    assert _mount_file(db, b"/other/by-date/2024/01/01/a (2).jpg", st(gone + 50)) == a
    assert _mount_file(db, b"/other/by-date/2024/01/01/b.jpg", st(gone + 50)) is None
    assert _mount_file(db, b"/other/sub/a.jpg", st(a, size=2)) is None  # same inode, another file
    with db.transaction():
        db.execute("UPDATE files SET name = ? WHERE id = ?", (b"a.jpg", gone))
    with pytest.raises(NoSuchFileError, match="matches 2 library files; give its file id instead"):
        _mount_file(db, b"/other/a.jpg", st(gone + 50))
