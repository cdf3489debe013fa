"""Text found in photos (OCR), its FTS5 index, and the per-source switches for analysis jobs.

- ``ocr``: one row per file the OCR stage handled (like ``embeddings``: the size and mtime read,
  so an edited photo is read again), with all its text joined by newlines;
- ``ocr_lines``: each line of text with its confidence and its box (four corners as fractions of
  the image's width and height, so they fit any rendition of the photo);
- ``ocr_fts``: an external-content FTS5 index of ``ocr.text``, kept in step by triggers (a file
  forgotten from the library cascades through ``ocr`` and so out of the index);
- ``source_analysis_off``: the analysis jobs (``ocr``, ``faces``, ``tags``) a user turned off for
  a source; no row means on (``gallerfs sources set NAME --no-ocr``).
"""

VERSION = 21

SQL = """
CREATE TABLE IF NOT EXISTS ocr (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    size            INTEGER NOT NULL,   -- files.size when read: a different size means redo
    mtime_ns        INTEGER NOT NULL,   -- files.mtime_ns when read
    state           TEXT NOT NULL CHECK (state IN ('done', 'error')),
    error           TEXT,               -- one line, when state = 'error'
    text            TEXT NOT NULL DEFAULT '',  -- every line found, joined by newlines ('' for none)
    engine          TEXT,               -- which OCR engine read it (e.g. rapidocr 3.10)
    ocr_at          REAL NOT NULL       -- unix time
);
CREATE INDEX IF NOT EXISTS ocr_by_state ON ocr (state);

CREATE TABLE IF NOT EXISTS ocr_lines (
    file_id         INTEGER NOT NULL REFERENCES ocr(file_id) ON DELETE CASCADE,
    line            INTEGER NOT NULL,   -- reading order, from 0
    text            TEXT NOT NULL,
    confidence      REAL NOT NULL,      -- the recogniser's score, 0..1
    box             TEXT NOT NULL,      -- JSON [[x, y] * 4], fractions of the image's width and height
    PRIMARY KEY (file_id, line)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE IF NOT EXISTS ocr_fts USING fts5(
    text, content='ocr', content_rowid='file_id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS ocr_fts_insert AFTER INSERT ON ocr BEGIN
    INSERT INTO ocr_fts (rowid, text) VALUES (new.file_id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS ocr_fts_delete AFTER DELETE ON ocr BEGIN
    INSERT INTO ocr_fts (ocr_fts, rowid, text) VALUES ('delete', old.file_id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS ocr_fts_update AFTER UPDATE OF text ON ocr BEGIN
    INSERT INTO ocr_fts (ocr_fts, rowid, text) VALUES ('delete', old.file_id, old.text);
    INSERT INTO ocr_fts (rowid, text) VALUES (new.file_id, new.text);
END;

CREATE TABLE IF NOT EXISTS source_analysis_off (
    source_id       INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,      -- an analysis job kind: ocr, faces, tags
    off_at          REAL NOT NULL,      -- unix time it was turned off
    PRIMARY KEY (source_id, kind)
) WITHOUT ROWID;
"""
