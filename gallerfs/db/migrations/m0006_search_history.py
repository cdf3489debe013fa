"""Recent searches run from the mount's ``search/`` folder, kept across mounts."""

VERSION = 6

SQL = """
-- A query looked up under MOUNT/search/ (or made with mkdir there); rmdir forgets it.
CREATE TABLE search_queries (
    query           TEXT PRIMARY KEY,                   -- the folder name exactly as typed
    last_used       REAL NOT NULL                       -- unix time it was last looked up
) WITHOUT ROWID;
CREATE INDEX search_queries_by_use ON search_queries (last_used);
"""
