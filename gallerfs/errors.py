"""Errors a user sees as one line, with a documented exit code (see man/gallerfs.1)."""

from __future__ import annotations

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

    exit_code = EXIT_ERROR

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class SchemaTooNewError(GallerfsError):
    exit_code = EXIT_SCHEMA


class UnknownSourceError(GallerfsError):
    pass


class SourceOfflineError(GallerfsError):
    pass


class LibraryBusyError(GallerfsError):
    """Another process held the library's write lock for longer than this connection waits."""

    exit_code = EXIT_LOCKED
