"""Errors a user sees as one line, with a documented exit code (see man/gallerfs.1).

Each kind of error is a type that carries what a caller answers with it: ``exit_code``
(the CLI's exit status) and ``errno`` (what the mount answers a file operation that
met it). Callers map an error by its type, never by its message text.
"""

from __future__ import annotations

from errno import EBUSY, EEXIST, EINVAL, ENOENT, ENOMEDIUM, ENOTEMPTY

# Exit codes, documented in the man page under EXIT STATUS.
EXIT_OK = 0
EXIT_ERROR = 1  # a user-facing error (bad input, unknown source, ...)
EXIT_USAGE = 2  # bad command line (argparse)
EXIT_SCHEMA = 3  # the library was written by a newer gallerfs
EXIT_LOCKED = 4  # another process holds the library or the resource
EXIT_NO_MODEL = 5  # a CLIP model is needed and none is installed
EXIT_OVERLAP = 6  # a mount point and a source overlap, or a source lies inside a gallerfs mount


class GallerfsError(Exception):
    """An error that is reported as one line, without a traceback."""

    exit_code: int = EXIT_ERROR
    errno: int = EINVAL  # bad input, unless a subclass says otherwise


class SchemaTooNewError(GallerfsError):
    exit_code = EXIT_SCHEMA


class UnknownSourceError(GallerfsError):
    errno = ENOENT


class SourceOfflineError(GallerfsError):
    errno = ENOMEDIUM


class InvalidNameError(GallerfsError):
    """A name (of an album, ...) that cannot be used."""


class AlbumExistsError(GallerfsError):
    errno = EEXIST


class AlbumNotEmptyError(GallerfsError):
    errno = ENOTEMPTY


class NoSuchAlbumError(GallerfsError):
    errno = ENOENT


class NoSuchFileError(GallerfsError):
    """No library file has this id, or a path names no file of the library."""

    errno = ENOENT


class LockedError(GallerfsError):
    """Another process holds the library or a resource (the indexer's lock, a mount point)."""

    exit_code = EXIT_LOCKED
    errno = EBUSY


class LibraryBusyError(LockedError):
    """Another process held the library's write lock for longer than this connection waits."""


class OverlapError(GallerfsError):
    """A mount point and a source overlap, or a source lies inside a gallerfs mount."""

    exit_code = EXIT_OVERLAP
