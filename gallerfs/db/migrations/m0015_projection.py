"""The clusters map: every CLIP vector reduced to a point in 2-D (PCA), computed by ``gallerfs index``.

The viewer's clusters page draws these points and its selection filter (a polygon) is a query over
them, so nothing is computed on the request path. ``projection_fit`` holds the linear map (mean and
two components) that placed them: new vectors are placed with the same map, and a refit (a new
model, or a library that has grown a lot) replaces every point and increments ``fit``, so a
selection drawn on an older map is recognised as stale.
"""

VERSION = 15

SQL = """
CREATE TABLE IF NOT EXISTS projection_fit (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    fit             INTEGER NOT NULL,   -- increases with every refit; a selection names the fit it was drawn on
    method          TEXT NOT NULL,      -- 'pca'
    model           TEXT NOT NULL,      -- embedding_space.model that was fitted
    space_created_at REAL NOT NULL,     -- embedding_space.created_at that was fitted
    dim             INTEGER NOT NULL,   -- vector length
    mean            BLOB NOT NULL,      -- float32 [dim]
    components      BLOB NOT NULL,      -- float32 [2, dim], rows: x axis, y axis
    fitted_n        INTEGER NOT NULL,   -- vectors the fit was computed from (a sample of the library)
    library_n       INTEGER NOT NULL,   -- vectors in the library at the time of the fit
    fitted_at       REAL NOT NULL,      -- unix time
    version         INTEGER NOT NULL DEFAULT 0  -- bumped by every change to projection_points
);

-- One point per embedded file, in the space of projection_fit.
CREATE TABLE IF NOT EXISTS projection_points (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    x               REAL NOT NULL,
    y               REAL NOT NULL,
    embedded_at     REAL NOT NULL      -- embeddings.embedded_at of the vector placed (a re-embedded file moves)
);

-- A vector removed (its file deleted or changed) takes its point with it at once.
CREATE TRIGGER IF NOT EXISTS projection_points_follow AFTER DELETE ON embeddings BEGIN
    DELETE FROM projection_points WHERE file_id = OLD.file_id;
    UPDATE projection_fit SET version = version + 1 WHERE id = 1;
END;
"""
