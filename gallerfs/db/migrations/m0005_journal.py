"""The journal: markdown entries found in the journal folder and the photos they link to."""

VERSION = 5

SQL = """
-- One markdown file of the journal folder (daily, weekly, or any other note), as last read.
CREATE TABLE journal_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    relpath         BLOB NOT NULL UNIQUE,               -- path under the journal folder, raw bytes, '/'-separated
    name            TEXT NOT NULL,                      -- file name without '.md', for display
    period          TEXT,                               -- '2024-07-14' or '2024-W28' when the name is one, else NULL
    period_start    TEXT,                               -- first day of the period, 'YYYY-MM-DD'
    period_end      TEXT,                               -- last day of the period (inclusive)
    mtime_ns        INTEGER NOT NULL,                   -- file modification time when read, ns
    size            INTEGER NOT NULL,                   -- bytes when read
    had_content     INTEGER NOT NULL DEFAULT 0,         -- 1 once seen non-empty: never given a template again
    scanned_at      REAL NOT NULL                       -- unix time it was last read
);
CREATE INDEX journal_entries_by_period ON journal_entries (period_start, period_end);

-- A library file that an entry's body links to (a "journal mention").
CREATE TABLE journal_mentions (
    entry_id        INTEGER NOT NULL REFERENCES journal_entries(id) ON DELETE CASCADE,
    file_id         INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,                   -- order of first appearance in the entry, from 0
    PRIMARY KEY (entry_id, file_id)
) WITHOUT ROWID;
CREATE INDEX journal_mentions_by_file ON journal_mentions (file_id);

-- The photos of a day or week: by date taken, and by file time for files without one.
CREATE INDEX IF NOT EXISTS metadata_by_taken ON metadata (taken_at) WHERE taken_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS files_by_mtime ON files (mtime_ns);
"""
