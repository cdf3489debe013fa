"""Errors carry their exit code and errno as a type: the mount and the CLI map them by type, never by text."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from gallerfs import errors
from gallerfs.db import albums as album_db
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.fs.library_dirs import _as_oserror


@pytest.fixture
def db(tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    with Database(tmp_path / "library.sqlite3") as db:
        source = sources_db.add_source(db, name="photos", path=str(photos).encode(), mount_point=b"/",
                                       fs_uuid=None, fs_type=None, device=1, root_inode=2)
        with db.transaction():
            files_db.insert_new(db, source.id, [files_db.ScannedFile(b"a.jpg", "image", 10, 0, 0, 1, 2)])
        yield db


def _errno_of(call) -> int:
    with pytest.raises(errors.GallerfsError) as info:
        call()
    return _as_oserror(info.value).errno


# Album names that contain the words the mount once matched in messages, so only the type can answer right.
TRAP = "no album already exists not empty"


def test_each_album_error_answers_its_errno(db: Database) -> None:
    file_id = int(db.value("SELECT id FROM files"))
    album_db.create_album(db, TRAP)
    assert _errno_of(lambda: album_db.create_album(db, TRAP)) == errno.EEXIST
    album_db.add_to_album(db, TRAP, [file_id])
    assert _errno_of(lambda: album_db.delete_album(db, TRAP, only_if_empty=True)) == errno.ENOTEMPTY
    assert _errno_of(lambda: album_db.add_to_album(db, "missing not empty", [file_id])) == errno.ENOENT
    assert _errno_of(lambda: album_db.add_to_album(db, TRAP, [file_id + 1000])) == errno.ENOENT
    assert _errno_of(lambda: album_db.add_favourites(db, [file_id + 1000])) == errno.ENOENT
    album_db.create_album(db, "other")
    assert _errno_of(lambda: album_db.rename_album(db, "other", TRAP)) == errno.EEXIST
    assert _errno_of(lambda: album_db.create_album(db, "a/already exists")) == errno.EINVAL


def test_messages_and_exit_codes_stay_as_documented(db: Database) -> None:
    album_db.create_album(db, "Trip")
    with pytest.raises(errors.AlbumExistsError, match=r"^an album named 'Trip' already exists$") as info:
        album_db.create_album(db, "Trip")
    assert info.value.exit_code == errors.EXIT_ERROR
    with pytest.raises(errors.NoSuchAlbumError, match=r"^no album named 'Gone'$"):
        album_db.delete_album(db, "Gone")
    assert errors.LockedError("x").exit_code == errors.EXIT_LOCKED
    assert errors.LibraryBusyError("x").exit_code == errors.EXIT_LOCKED
    assert errors.OverlapError("x").exit_code == errors.EXIT_OVERLAP
    assert errors.SchemaTooNewError("x").exit_code == errors.EXIT_SCHEMA


def test_a_busy_library_is_not_turned_into_an_errno() -> None:
    """The mount's fuse_errors answers EBUSY for it and logs it; _as_oserror lets it through."""
    busy = errors.LibraryBusyError("the library is locked")
    with pytest.raises(errors.LibraryBusyError):
        _as_oserror(busy)
