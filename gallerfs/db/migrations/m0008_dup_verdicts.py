"""Remembered pixel-check verdicts of near-duplicate candidate pairs.

A perceptual-hash match is confirmed on the pictures before two files may
share a near set (``indexer.duplicates.look``); comparing a pair costs a few
milliseconds, so each verdict is kept until either file changes. Existing
libraries start with an empty table: verdicts are computed the next time
duplicates are listed, and stored by any writer that lists them.
"""

VERSION = 8

SQL = """
-- Whether two files flagged as neighbours by their perceptual hashes show the same picture.
CREATE TABLE duplicate_verdicts (
    file_a          INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,  -- the lower file id of the pair
    file_b          INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,  -- the higher file id
    stamp           TEXT NOT NULL,                      -- 'size:mtime_ns:size:mtime_ns' of a and b when compared
    rule            INTEGER NOT NULL,                   -- version of the pixel check that decided (look.RULE)
    same            INTEGER NOT NULL,                   -- 1: the same picture; 0: different pictures
    PRIMARY KEY (file_a, file_b)
) WITHOUT ROWID;
CREATE INDEX duplicate_verdicts_by_b ON duplicate_verdicts (file_b);
"""
