"""The core schema: sources, files, metadata, albums, favourites, jobs, failures."""

VERSION = 1

SQL = """
-- A folder the user added. It lives on some filesystem that may be unplugged.
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    name            TEXT NOT NULL UNIQUE,               -- short name shown in the mount (sources/<name>)
    path            BLOB NOT NULL UNIQUE,               -- absolute root folder, raw bytes (os.fsencode)
    mount_point     BLOB NOT NULL,                      -- the mount point the folder lived under when added
    fs_uuid         TEXT,                               -- filesystem UUID/identity when one could be read
    fs_type         TEXT,                               -- e.g. ext4, vfat, tmpfs (informational)
    device          INTEGER,                            -- st_dev of the root when last seen online
    root_inode      INTEGER,                            -- st_ino of the root when last seen online
    online          INTEGER NOT NULL DEFAULT 1,         -- 1 when last checked online
    offline_reason  TEXT,                               -- why it was last judged offline
    added_at        REAL NOT NULL,                      -- unix time
    last_seen_at    REAL,                               -- last time it was seen online
    last_scan_at    REAL                                -- end of the last complete phase-1 walk
);

-- One photo or video inside a source. Its id is stable across moves and edits.
CREATE TABLE files (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: thumbnails and albums key on it
    source_id       INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    relpath         BLOB NOT NULL,                      -- path under the source root, raw bytes, '/'-separated
    dir             BLOB NOT NULL,                      -- relpath of the parent folder ('' for the root)
    name            BLOB NOT NULL,                      -- last path component, raw bytes
    kind            TEXT NOT NULL CHECK (kind IN ('image', 'video', 'raw')),
    size            INTEGER NOT NULL,                   -- bytes
    mtime_ns        INTEGER NOT NULL,                   -- modification time, ns
    ctime_ns        INTEGER NOT NULL,                   -- status change time, ns
    device          INTEGER NOT NULL,                   -- st_dev when scanned
    inode           INTEGER NOT NULL,                   -- st_ino when scanned (move detection)
    state           TEXT NOT NULL DEFAULT 'pending'     -- phase 2: pending, done, error
                    CHECK (state IN ('pending', 'done', 'error')),
    error           TEXT,                               -- last phase-2 error, one line
    content_hash    TEXT,                               -- sha256 of the whole file, hex
    partial_hash    TEXT,                               -- sha256 of the first and last 64 KiB (+ size), hex
    phash           INTEGER,                            -- 64-bit DCT perceptual hash (signed), images/frames
    dhash           INTEGER,                            -- 64-bit difference hash (signed)
    first_seen_at   REAL NOT NULL,                      -- unix time the file entered the library
    indexed_at      REAL,                               -- unix time phase 2 finished
    attempts        INTEGER NOT NULL DEFAULT 0,         -- times phase 2 ran on this version of the file
    UNIQUE (source_id, relpath)
);
CREATE INDEX files_by_dir ON files (source_id, dir, name);
CREATE INDEX files_by_state ON files (state, id);
CREATE INDEX files_by_inode ON files (device, inode);
CREATE INDEX files_by_size ON files (size);
CREATE INDEX files_by_hash ON files (content_hash) WHERE content_hash IS NOT NULL;

-- What phase 2 read from the file. One row per file once phase 2 ran.
CREATE TABLE metadata (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    taken_at        TEXT,          -- local wall-clock date taken, ISO 8601 'YYYY-MM-DDTHH:MM:SS[.ffffff]'
    utc_offset      TEXT,          -- '+02:00' when the file says so
    taken_source    TEXT,          -- where taken_at came from: exif, xmp, quicktime, filename, mtime
    sort_time       REAL,          -- unix time used for ordering / by-date (taken_at, else mtime)
    make            TEXT,
    model           TEXT,
    lens            TEXT,
    f_number        REAL,
    exposure_time   REAL,          -- seconds
    iso             INTEGER,
    focal_length    REAL,          -- mm
    width           INTEGER,       -- pixels after orientation is applied
    height          INTEGER,
    orientation     INTEGER,       -- EXIF orientation 1-8
    latitude        REAL,          -- signed decimal degrees (south negative)
    longitude       REAL,          -- signed decimal degrees (west negative)
    altitude        REAL,          -- metres, negative below sea level
    duration        REAL,          -- seconds (videos)
    format          TEXT,          -- decoded container/format, e.g. JPEG, HEIF, MP4
    mime            TEXT,
    extra           TEXT           -- JSON of other fields worth keeping
);
CREATE INDEX metadata_by_time ON metadata (sort_time);
CREATE INDEX metadata_by_camera ON metadata (make, model);
CREATE INDEX metadata_by_gps ON metadata (latitude, longitude) WHERE latitude IS NOT NULL;

-- Albums and their members.
CREATE TABLE albums (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    created_at      REAL NOT NULL
);
CREATE TABLE album_files (
    album_id        INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
    file_id         INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    added_at        REAL NOT NULL,
    PRIMARY KEY (album_id, file_id)
) WITHOUT ROWID;
CREATE INDEX album_files_by_file ON album_files (file_id);

CREATE TABLE favourites (
    file_id         INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
    added_at        REAL NOT NULL
);

-- The durable job queue: one row per job; per-file progress lives in files.state.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,       -- scan, process, embed, rescan, ...
    source_id       INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    total           INTEGER NOT NULL DEFAULT 0,  -- units of work known so far
    done            INTEGER NOT NULL DEFAULT 0,  -- units finished (including failed ones)
    failed          INTEGER NOT NULL DEFAULT 0,  -- units that failed
    pid             INTEGER,                     -- process running it
    heartbeat_at    REAL,                        -- last sign of life of that process
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    last_error      TEXT,
    params          TEXT                         -- JSON
);
CREATE INDEX jobs_by_state ON jobs (state, id);

-- Every failure met while indexing, kept so that a user can see what was skipped.
CREATE TABLE failures (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id       INTEGER REFERENCES sources(id) ON DELETE CASCADE,
    file_id         INTEGER REFERENCES files(id) ON DELETE CASCADE,
    job_id          INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
    path            BLOB NOT NULL,       -- path under the source root (raw bytes)
    stage           TEXT NOT NULL,       -- walk, metadata, thumbnail, hash, embed, ...
    error           TEXT NOT NULL,       -- one line
    at              REAL NOT NULL
);
CREATE INDEX failures_by_file ON failures (file_id);
CREATE INDEX failures_by_source_path ON failures (source_id, path);

-- Monotonic change counter so readers (mount, viewer) can tell the library changed.
CREATE TABLE library_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    generation      INTEGER NOT NULL
);
INSERT INTO library_state (id, generation) VALUES (1, 0);
"""
