"""Tags: what is in each photo (EfficientNet-Lite0 ImageNet classes and their parent words).

``tagged`` records per file that the tags job ran on it (and on which version of the file, with which
model), so the job resumes with the files still to do and redoes an edited photo; ``tags`` holds the
kept tags with their scores; ``tag_vectors`` the MiniLM vector of each tag name, for matching a query
to tags by meaning.
"""

VERSION = 20

SQL = """
-- One row per file the tags job handled; a file with no row (or a stale one) is still to do.
CREATE TABLE IF NOT EXISTS tagged (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    model           TEXT NOT NULL,      -- identity of the tags model (name + sha256 prefix): another one redoes
    size            INTEGER NOT NULL,   -- files.size when tagged: a different size means redo
    mtime_ns        INTEGER NOT NULL,   -- files.mtime_ns when tagged: a different time means redo
    state           TEXT NOT NULL CHECK (state IN ('done', 'error')),
    error           TEXT,               -- one line, when state = 'error'
    tagged_at       REAL NOT NULL       -- unix time
);

-- The tags a photo kept: a class name ('tabby cat') or a parent word ('cat'), with its probability.
CREATE TABLE IF NOT EXISTS tags (
    file_id         INTEGER NOT NULL REFERENCES tagged(file_id) ON DELETE CASCADE,
    tag             TEXT NOT NULL,      -- lower case, as models/tag_labels.py names it
    score           REAL NOT NULL,      -- 0..1: the summed probability of the classes carrying the tag
    PRIMARY KEY (file_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_tag ON tags (tag, score);

-- The text embedding of each tag name (all-MiniLM-L6-v2, unit length float32).
CREATE TABLE IF NOT EXISTS tag_vectors (
    tag             TEXT PRIMARY KEY,
    model           TEXT NOT NULL,      -- identity of the text model that made the vector
    vector          BLOB NOT NULL       -- float32 little-endian, unit length
);
"""
