"""Whether a source is plugged in now, recorded in the library.

Kept apart from the scanner so that commands which only report presence
(``gallerfs sources``) start without the hashing stack (numpy, Pillow).
"""

from __future__ import annotations

import os

from gallerfs.db import files as files_db
from gallerfs.db import sources as sources_db
from gallerfs.db.connection import Database
from gallerfs.db.sources import Source
from indexer.volumes import check_presence, is_empty_dir


def refresh_presence(db: Database, source: Source, *, allow_empty: bool = False) -> Source:
    """Check whether a source is plugged in and record it; returns the updated row."""
    presence = check_presence(source.path, source.mount_point, source.fs_uuid)
    online, reason = presence.online, presence.reason
    if online and not allow_empty and files_db.count_files(db, source.id) and is_empty_dir(source.path):
        online, reason = False, (
            f"{os.fsdecode(source.path)} is empty although the library has files there: treated as unplugged "
            "(use 'gallerfs rescan --allow-empty' if they were really deleted)"
        )
    ident = presence.identity
    sources_db.set_presence(
        db, source.id, online=online, reason=reason,
        device=ident.device if ident and online else None,
        root_inode=ident.root_inode if ident and online else None,
    )  # fmt: skip
    updated = sources_db.get_source(db, source.id)
    assert updated is not None
    return updated
