"""The journal: daily (``YYYY-MM-DD.md``) and weekly (``YYYY-Www.md``, ISO weeks) markdown entries.

Entries live in the journal folder (setting ``journal_dir``, default
``<library>/journal``), which the mount shows read-write as ``MOUNT/journal/``.
A new entry gets YAML front matter (``date``, ``week``, ``tags``, ``photos`` as
library ids) and links to the photos of its day or week; after that the file
is the user's and gallerfs never writes it again.

Link convention (see ``links``): ``_photos/YYYY-MM-DD/<name>``, percent-encoded,
relative to the journal folder. ``MOUNT/journal/_photos/`` is a read-only
virtual folder of the mount with each day's photos under their ``by-date/``
names, so the links resolve in Obsidian with the vault at ``MOUNT/journal/``
and in any markdown previewer. Every photo an entry's body links to (the
template's links the user keeps included) is a journal mention.

Modules: ``periods`` (parsing), ``template`` (rendering, front matter),
``links`` (the convention, link parsing), ``photos`` (period <-> library files),
``safewrite`` (no-clobber template writing), ``entries`` (create, fill, record,
sync), ``email_export`` (RFC 5322 export).
"""

from __future__ import annotations

from gallerfs.journal.entries import (
    create_entry,
    fill_if_empty,
    journal_folder,
    on_journal_file_event,
    record_file,
    sync_journal,
)
from gallerfs.journal.periods import Period, parse_period

__all__ = [
    "Period",
    "create_entry",
    "fill_if_empty",
    "journal_folder",
    "on_journal_file_event",
    "parse_period",
    "record_file",
    "sync_journal",
]
