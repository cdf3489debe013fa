"""Adding a folder as a source: the checks and the insert behind 'gallerfs add' and the viewer's
"Add a folder" (one implementation, so both refuse the same folders with the same one-line errors)."""

from __future__ import annotations

import os

from gallerfs.cli.context import printable
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.errors import GallerfsError
from gallerfs.mountguard import GallerfsMounts, check_new_source


def default_name(path: bytes, taken: set[str]) -> str:
    base = os.fsdecode(os.path.basename(path.rstrip(b"/"))) or "root"
    base = base.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("/", "_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def check_folder(folder: str | bytes, mounts: GallerfsMounts) -> bytes:
    """The real path of a folder that may become a source; GallerfsError (one line) when it may not."""
    path = os.fsencode(os.path.abspath(os.path.expanduser(folder)))
    shown = printable(path)
    check_new_source(path, mounts)  # before anything below looks inside a gallerfs mount
    if not os.path.exists(path):
        raise GallerfsError(f"{shown}: no such folder")
    if not os.path.isdir(path):
        raise GallerfsError(f"{shown}: not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise GallerfsError(f"{shown}: permission denied")
    return os.path.realpath(path)


def add_checked(db: Database, path: bytes, name: str | None = None) -> sources_db.Source:
    """Record a folder that passed ``check_folder`` (named after it unless ``name`` is given)."""
    from gallerfs.indexer.volumes import identify

    taken = {s.name for s in sources_db.list_sources(db)}
    ident = identify(path)
    return sources_db.add_source(
        db, name=name or default_name(path, taken), path=path, mount_point=ident.mount_point,
        fs_uuid=ident.fs_uuid, fs_type=ident.fs_type, device=ident.device, root_inode=ident.root_inode,
    )  # fmt: skip
