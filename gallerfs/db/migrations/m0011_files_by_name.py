"""An index on file names: ``similar/<name>`` and copies dropped into albums find a file by its name.

Without it every such lookup scanned the whole files table (15-25 ms at 100k files, so listing 10k
``similar/`` names took minutes). A first walk defers it like the other secondary indexes
(``gallerfs.db.files.DEFERRABLE_INDEXES``).
"""

VERSION = 11

SQL = """
CREATE INDEX IF NOT EXISTS files_by_name ON files (name);
"""
