"""Restoring a trashed duplicate: what the file's row held, and whether it came back.

``snapshot`` keeps the phase-2 results of the row that trashing deletes (its metadata, hashes and
perceptual hashes, as JSON), so that a copy restored from the trash (``gallerfs duplicates
restore``, the viewer's undo) gets its old id, thumbnails and metadata back without re-indexing.
"""

VERSION = 14

SQL = """
ALTER TABLE trash_records ADD COLUMN snapshot TEXT;      -- JSON of the files and metadata rows when trashed (NULL before v14)
ALTER TABLE trash_records ADD COLUMN restored_at REAL;   -- unix time it was moved back from the trash; NULL while in it
"""
