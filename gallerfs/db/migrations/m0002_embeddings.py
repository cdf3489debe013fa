"""CLIP embeddings: which model made them, and which files were embedded.

The vectors themselves live in a sqlite-vec ``vec0`` table, ``vec_embeddings``,
created by ``gallerfs.db.embeddings.ensure_space`` once the model (and so the
dimension) is known; it is dropped and rebuilt when the model changes.
"""

VERSION = 2

SQL = """
-- The embedding space the stored vectors belong to (at most one row).
CREATE TABLE embedding_space (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    model           TEXT NOT NULL,      -- model identity: name plus sha256 prefixes of both towers
    dim             INTEGER NOT NULL,   -- vector length
    created_at      REAL NOT NULL,      -- unix time the space (and vec_embeddings) was created
    version         INTEGER NOT NULL DEFAULT 0  -- bumped by every change to the vectors (readers' caches)
);

-- One row per file the embedding stage handled; a file with no row (or a stale one) is still to do.
CREATE TABLE embeddings (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    size            INTEGER NOT NULL,   -- files.size when embedded: a different size means redo
    mtime_ns        INTEGER NOT NULL,   -- files.mtime_ns when embedded: a different time means redo
    state           TEXT NOT NULL CHECK (state IN ('done', 'error')),
    error           TEXT,               -- one line, when state = 'error'
    embedded_at     REAL NOT NULL       -- unix time
);
CREATE INDEX embeddings_by_state ON embeddings (state);
"""
