"""Directory kinds backed by the index: sources/, by-date/, by-album/, favourites/."""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
from dataclasses import dataclass
from typing import Hashable

from gallerfs.db import albums as album_db
from gallerfs.db import tree as q
from gallerfs.db.tree import FileRow
from gallerfs.errors import GallerfsError, LibraryBusyError
from gallerfs.fs.nodes import DirNode, Entry, TreeContext, file_entries, fs_name

log = logging.getLogger(__name__)


# -- sources/ ---------------------------------------------------------------
class SourcesRoot(DirNode):
    key = ("top", b"sources")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [Entry(fs_name(s.name), SourceFolder(s.id, b"")) for s in q.list_sources(ctx.db)]


def _source_tree(ctx: TreeContext, source_id: int) -> dict[bytes, list[bytes]]:
    """Folder -> names of its subfolders, for one source (computed once per generation)."""

    def build() -> dict[bytes, list[bytes]]:
        children: dict[bytes, set[bytes]] = {}
        for d in q.source_dirs(ctx.db, source_id):
            while d:
                parent, _, name = d.rpartition(b"/")
                kids = children.setdefault(parent, set())
                if name in kids:
                    break
                kids.add(name)
                d = parent
        return {k: sorted(v) for k, v in children.items()}

    return ctx.memo.get(("source_tree", source_id), build)


@dataclass(frozen=True)
class SourceFolder(DirNode):
    source_id: int
    dir: bytes  # '' for the source root

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("src", self.source_id, self.dir)

    def list(self, ctx: TreeContext) -> list[Entry]:
        subdirs = _source_tree(ctx, self.source_id).get(self.dir, [])
        prefix = self.dir + b"/" if self.dir else b""
        out = [Entry(name, SourceFolder(self.source_id, prefix + name)) for name in subdirs]
        out += file_entries(q.files_in_dir(ctx.db, self.source_id, self.dir), taken=subdirs)
        return out


# -- by-date/YYYY/MM/DD -----------------------------------------------------
ByDateIndex = dict[str, dict[str, dict[str, list[FileRow]]]]


def _local_day(quarter: int) -> str:
    """The local date of a quarter hour (unix time // 900): every UTC offset is a multiple of 15 minutes."""
    try:
        return dt.datetime.fromtimestamp(quarter * 900).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return "1970-01-01"


def _by_date(ctx: TreeContext) -> ByDateIndex:
    def build() -> ByDateIndex:
        index: ByDateIndex = {}
        days: dict[int, str] = {}
        for row, day in q.dated_files(ctx.db):
            if day is None:
                quarter = row.mtime_ns // 900_000_000_000
                day = days.get(quarter) or days.setdefault(quarter, _local_day(quarter))
            y, m, d = day.split("-")
            index.setdefault(y, {}).setdefault(m, {}).setdefault(d, []).append(row)
        return index

    return ctx.memo.get("by_date", build)


class ByDateRoot(DirNode):
    key = ("top", b"by-date")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [Entry(y.encode(), YearDir(y)) for y in sorted(_by_date(ctx))]


@dataclass(frozen=True)
class YearDir(DirNode):
    year: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("year", self.year)

    def list(self, ctx: TreeContext) -> list[Entry]:
        months = _by_date(ctx).get(self.year, {})
        return [Entry(m.encode(), MonthDir(self.year, m)) for m in sorted(months)]


@dataclass(frozen=True)
class MonthDir(DirNode):
    year: str
    month: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("month", self.year, self.month)

    def list(self, ctx: TreeContext) -> list[Entry]:
        days = _by_date(ctx).get(self.year, {}).get(self.month, {})
        return [Entry(d.encode(), DayDir(self.year, self.month, d)) for d in sorted(days)]


@dataclass(frozen=True)
class DayDir(DirNode):
    year: str
    month: str
    day: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("day", self.year, self.month, self.day)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(_by_date(ctx).get(self.year, {}).get(self.month, {}).get(self.day, []))


# -- by-album/<album>/ and favourites/ ----------------------------------------
def _album_name(name: bytes) -> str:
    try:
        text = name.decode("utf-8")
        return album_db.check_album_name(text)
    except (UnicodeDecodeError, GallerfsError):
        raise OSError(errno.EINVAL, "album names must be valid UTF-8") from None


def _as_oserror(exc: GallerfsError) -> OSError:
    """The errno the error's type carries (``GallerfsError.errno``), with its message."""
    if isinstance(exc, LibraryBusyError):  # not the user's mistake: fuse_errors answers EBUSY and logs it
        raise exc
    return OSError(exc.errno, str(exc))


class ByAlbumRoot(DirNode):
    key = ("top", b"by-album")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return [Entry(fs_name(a.name), AlbumDir(a.id, a.name)) for a in q.list_albums(ctx.db)]

    def mkdir(self, ctx: TreeContext, name: bytes) -> None:
        try:
            album_db.create_album(ctx.writer(), _album_name(name))
        except GallerfsError as exc:
            raise _as_oserror(exc) from None

    def rmdir(self, ctx: TreeContext, name: bytes, child: object) -> None:
        if not isinstance(child, AlbumDir):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        try:
            album_db.delete_album(ctx.writer(), child.name, only_if_empty=True)
        except GallerfsError as exc:
            raise _as_oserror(exc) from None

    def rename_child(self, ctx: TreeContext, old: bytes, new: bytes, child: object) -> None:
        if not isinstance(child, AlbumDir):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        try:
            album_db.rename_album(ctx.writer(), child.name, _album_name(new))
        except GallerfsError as exc:
            raise _as_oserror(exc) from None


@dataclass(frozen=True)
class AlbumDir(DirNode):
    album_id: int
    name: str

    @property
    def key(self) -> tuple[Hashable, ...]:
        return ("album", self.album_id)

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(q.album_files(ctx.db, self.album_id), member_of=self.key)

    def _current_name(self, ctx: TreeContext) -> str:
        for a in q.list_albums(ctx.db):
            if a.id == self.album_id:
                return a.name
        raise OSError(errno.ENOENT, "the album was deleted")

    def add_file(self, ctx: TreeContext, file_id: int) -> None:
        try:
            album_db.add_to_album(ctx.writer(), self._current_name(ctx), [file_id])
        except GallerfsError as exc:
            raise _as_oserror(exc) from None

    def remove_file(self, ctx: TreeContext, file_id: int, name: bytes) -> None:
        try:
            album_db.remove_from_album(ctx.writer(), self._current_name(ctx), [file_id])
        except GallerfsError as exc:
            raise _as_oserror(exc) from None


class FavouritesDir(DirNode):
    key = ("top", b"favourites")

    def list(self, ctx: TreeContext) -> list[Entry]:
        return file_entries(q.favourite_files(ctx.db), member_of=self.key)

    def add_file(self, ctx: TreeContext, file_id: int) -> None:
        try:
            album_db.add_favourites(ctx.writer(), [file_id])
        except GallerfsError as exc:
            raise _as_oserror(exc) from None

    def remove_file(self, ctx: TreeContext, file_id: int, name: bytes) -> None:
        album_db.remove_favourites(ctx.writer(), [file_id])
