"""The FILE argument of every command that names one library file, turned into its library id.

``album add|remove``, ``favourite``, ``similar`` and ``duplicates trash|keep`` take the same thing: a
library id, the path of an original (or of a link to it; an original on an unplugged drive is found
in the index), or a file inside a gallerfs mount (its inode names the library file; a mount of
another library is matched by the original's name, size and modification time instead).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gallerfs.cli.context import printable
from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db import tree
from gallerfs.errors import NoSuchFileError

if TYPE_CHECKING:
    from gallerfs.db.connection import Database

MAX_ID = 2**63 - 1  # SQLite's largest integer


def resolve_file(db: Database, arg: str) -> int:
    """The library id that a FILE argument names; NoSuchFileError (one line) when it names none."""
    if arg.isascii() and arg.isdigit() and not os.path.lexists(arg):  # a file called "123" here is a path
        file_id = int(arg)
        if file_id > MAX_ID or tree.file_row(db, file_id) is None:
            raise NoSuchFileError(f"no file with id {arg} in the library")
        return file_id
    path = os.fsencode(os.path.abspath(os.path.expanduser(arg)))
    found = _original_at(db, path)
    if found is not None:
        return found
    try:
        st = os.stat(path)
    except OSError as exc:
        raise NoSuchFileError(f"{printable(path)}: {exc.strerror}") from None
    found = _mount_file(db, path, st)
    if found is not None:
        return found
    raise NoSuchFileError(f"{printable(path)}: not a file of the library")


def _original_at(db: Database, path: bytes) -> int | None:
    """The indexed original at path (absolute): as given, else with its links resolved."""
    for candidate in dict.fromkeys((path, os.path.realpath(path))):
        source = sources_db.source_containing(db, candidate)
        if source is None:
            continue
        row = files_db.file_by_path(db, source.id, candidate[len(source.path.rstrip(b"/")) + 1 :])
        if row is not None:
            return int(row.id)
    return None


def _mount_file(db: Database, path: bytes, st: os.stat_result) -> int | None:
    """The library file shown at path inside a gallerfs mount, if path is one."""
    from gallerfs.fs.nodes import file_id_of_inode, strip_suffix
    from gallerfs.mountguard import gallerfs_mounts

    file_id = file_id_of_inode(st.st_ino)
    if file_id is None or st.st_dev not in gallerfs_mounts().devices:
        return None  # not in a mount, or a folder or generated file there (.gallerfs/, README.txt)
    row = tree.file_row(db, file_id)
    if row is not None and (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns):
        return file_id
    # The mount shows another library: its files mirror their original's name, size and time.
    matches = tree.files_by_name_size_mtime(db, strip_suffix(os.path.basename(path)), st.st_size, st.st_mtime_ns)
    if len(matches) > 1:
        raise NoSuchFileError(f"{printable(path)} matches {len(matches)} library files; give its file id instead")
    return matches[0] if matches else None
