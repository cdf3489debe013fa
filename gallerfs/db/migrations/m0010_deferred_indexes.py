"""Secondary indexes of ``files`` that a first walk builds once at its end.

Maintaining the indexes on inode, size, mtime and state row by row costs more
than half of a first walk of a big folder; building each once over the whole
table, sorted, costs a fraction of that. While a walk has them dropped, their
definitions wait here, so that a walk that was killed half-way has them back
at the next scan (``gallerfs.db.files.restore_deferred_indexes``).
"""

VERSION = 10

SQL = """
-- An index dropped for the length of a first walk, and the statement that builds it again.
CREATE TABLE deferred_indexes (
    name            TEXT PRIMARY KEY,                   -- index name, as in sqlite_master
    sql             TEXT NOT NULL                       -- its CREATE INDEX statement, as in sqlite_master
) WITHOUT ROWID;
"""
