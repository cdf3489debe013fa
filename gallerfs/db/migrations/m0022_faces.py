"""Faces and people: what the ``faces`` job found in each photo, the people those faces were grouped
into, and the user's decisions about them (names, merges, splits, "not this person").

A face's box is in the pixels of the upright original (EXIF orientation applied, the same frame as
``metadata.width`` / ``height``), whatever image it was detected on. The user's decisions live on the
rows themselves (``faces.confirmed``, ``face_rejections``, ``persons.name``) so that clustering again,
or detecting a changed photo again, keeps them (``gallerfs.db.faces`` carries them over).
"""

VERSION = 22

SQL = """
-- A person: a group of faces, named by the user or not yet.
CREATE TABLE IF NOT EXISTS persons (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: 'person 12' stays that person
    name            TEXT UNIQUE,                        -- the user's name for them; NULL until named
    created_at      REAL NOT NULL,                      -- unix time
    named_at        REAL                                -- unix time of the last rename
);

-- One face found in a photo.
CREATE TABLE IF NOT EXISTS faces (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id         INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    x               INTEGER NOT NULL,   -- left edge, pixels of the upright original
    y               INTEGER NOT NULL,   -- top edge
    w               INTEGER NOT NULL,   -- width
    h               INTEGER NOT NULL,   -- height
    score           REAL,               -- detector confidence (HOG: larger is surer; about 0 at the edge)
    embedding       BLOB NOT NULL,      -- float32[128], dlib ResNet face descriptor
    person_id       INTEGER REFERENCES persons(id) ON DELETE SET NULL,  -- NULL: not clustered yet
    confirmed       INTEGER NOT NULL DEFAULT 0,  -- 1: the user put it in this person (a name, merge or split);
                                                 -- clustering never moves it
    created_at      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_file ON faces (file_id);
CREATE INDEX IF NOT EXISTS faces_by_person ON faces (person_id, file_id);

-- "This face is not that person": clustering never puts the face into the person again.
CREATE TABLE IF NOT EXISTS face_rejections (
    face_id         INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    person_id       INTEGER NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    PRIMARY KEY (face_id, person_id)
) WITHOUT ROWID;

-- One row per file the faces job looked at; a file with no row (or a stale one) is still to do.
CREATE TABLE IF NOT EXISTS face_scans (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    size            INTEGER NOT NULL,   -- files.size when scanned: a different size means redo
    mtime_ns        INTEGER NOT NULL,   -- files.mtime_ns when scanned
    state           TEXT NOT NULL CHECK (state IN ('done', 'error')),
    error           TEXT,               -- one line, when state = 'error'
    faces           INTEGER NOT NULL DEFAULT 0,  -- faces found
    scanned_at      REAL NOT NULL
);
"""
