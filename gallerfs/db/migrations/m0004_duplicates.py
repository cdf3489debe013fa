"""Duplicates: what was sent to the trash, and the keepers a user chose.

A trashed file's row is deleted from ``files`` (the file is gone from its
source, so every view stays consistent without filtering); what it was and
where it went is kept here so a user can find and restore it.
"""

VERSION = 4

SQL = """
-- One row per original that gallerfs moved to the desktop trash.
CREATE TABLE trash_records (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    file_id         INTEGER NOT NULL,                   -- the files.id it had (the row is deleted; no FK)
    source_id       INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    source_name     TEXT NOT NULL,                      -- source name at the time (kept if the source goes)
    relpath         BLOB NOT NULL,                      -- path under the source root, raw bytes
    original_path   BLOB NOT NULL,                      -- absolute path it was trashed from, raw bytes
    size            INTEGER NOT NULL,                   -- bytes
    content_hash    TEXT NOT NULL,                      -- sha256 of the whole file, verified just before trashing
    kept_file_id    INTEGER,                            -- the verified copy that stayed (files.id; may go later)
    kept_path       BLOB,                               -- its absolute path at the time
    set_kind        TEXT NOT NULL CHECK (set_kind IN ('exact', 'near')),  -- which kind of set it belonged to
    trash_path      BLOB NOT NULL,                      -- where the file now lies (…/Trash/files/NAME)
    trashinfo_path  BLOB NOT NULL,                      -- its freedesktop .trashinfo file
    trashed_at      REAL NOT NULL                       -- unix time
);
CREATE INDEX trash_records_by_hash ON trash_records (content_hash);

-- The copy a user chose to keep, overriding the suggested keeper of any set it is in.
CREATE TABLE duplicate_keepers (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    chosen_at       REAL NOT NULL                       -- unix time; the latest choice wins within a set
);
"""
