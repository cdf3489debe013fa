"""Reading the whole library out as plain records, and writing such records into an empty library.

Used by 'gallerfs export' / 'gallerfs import'; the JSON format is documented in
docs/export-format.md. Paths are bytes here; the CLI layer turns them into text.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from gallerfs.db.connection import Database
from gallerfs.db.files import METADATA_COLUMNS
from gallerfs.db.state import bump_generation

SOURCE_FIELDS = ("id", "name", "path", "mount_point", "fs_uuid", "fs_type", "added_at", "last_seen_at",
                 "last_scan_at")  # fmt: skip
FILE_FIELDS = ("id", "source_id", "relpath", "kind", "size", "mtime_ns", "ctime_ns", "device", "inode", "state",
               "error", "content_hash", "partial_hash", "phash", "dhash", "first_seen_at", "indexed_at")  # fmt: skip


def iter_sources(db: Database) -> Iterator[dict[str, Any]]:
    yield from db.rows(f"SELECT {', '.join(SOURCE_FIELDS)} FROM sources ORDER BY id")


def iter_files(db: Database) -> Iterator[dict[str, Any]]:
    cols = ", ".join(f"f.{c}" for c in FILE_FIELDS) + ", " + ", ".join(f"m.{c} AS m_{c}" for c in METADATA_COLUMNS)
    cursor = db.conn.cursor()
    names = [*FILE_FIELDS, *(f"m_{c}" for c in METADATA_COLUMNS)]
    has_meta = "m.file_id IS NOT NULL"
    for row in cursor.execute(
        f"SELECT {cols}, {has_meta} FROM files f LEFT JOIN metadata m ON m.file_id = f.id ORDER BY f.id"
    ):
        record = dict(zip(FILE_FIELDS, row[: len(FILE_FIELDS)]))
        if row[-1]:
            meta = dict(zip(METADATA_COLUMNS, row[len(FILE_FIELDS) : len(names)]))
            if meta.get("extra"):
                meta["extra"] = json.loads(meta["extra"])
            record["metadata"] = meta
        else:
            record["metadata"] = None
        yield record


def albums(db: Database) -> list[dict[str, Any]]:
    out = []
    for album in db.rows("SELECT id, name, created_at FROM albums ORDER BY id"):
        album["files"] = db.rows(
            "SELECT file_id, added_at FROM album_files WHERE album_id = ? ORDER BY added_at, file_id", (album["id"],)
        )
        out.append(album)
    return out


def favourites(db: Database) -> list[dict[str, Any]]:
    return db.rows("SELECT file_id, added_at FROM favourites ORDER BY file_id")


def people(db: Database) -> dict[str, Any]:
    """Persons, faces and the user's decisions about them (``gallerfs.db.faces.export_people``)."""
    from gallerfs.db.faces import export_people

    return export_people(db)


def is_empty(db: Database) -> bool:
    return not db.value("SELECT 1 FROM sources LIMIT 1") and not db.value("SELECT 1 FROM files LIMIT 1")


def restore(db: Database, data: dict[str, Any]) -> dict[str, int]:
    """Write exported records (paths already bytes) into an empty library, ids preserved."""
    with db.transaction():
        for s in data["sources"]:
            db.execute(
                f"INSERT INTO sources ({', '.join(SOURCE_FIELDS)}, online) VALUES "
                f"({', '.join('?' * len(SOURCE_FIELDS))}, 0)",
                [s.get(k) for k in SOURCE_FIELDS],
            )
        for f in data["files"]:
            relpath = f["relpath"]
            db.execute(
                f"INSERT INTO files ({', '.join(FILE_FIELDS)}, dir, name) VALUES "
                f"({', '.join('?' * (len(FILE_FIELDS) + 2))})",
                [*(f.get(k) for k in FILE_FIELDS), relpath.rpartition(b"/")[0], relpath.rpartition(b"/")[2]],
            )
            meta = f.get("metadata")
            if meta:
                values = [meta.get(c) for c in METADATA_COLUMNS]
                i = METADATA_COLUMNS.index("extra")
                values[i] = json.dumps(values[i]) if values[i] is not None else None
                db.execute(
                    f"INSERT INTO metadata (file_id, {', '.join(METADATA_COLUMNS)}) "
                    f"VALUES (?, {', '.join('?' * len(METADATA_COLUMNS))})",
                    (f["id"], *values),
                )
        for a in data.get("albums", []):
            db.execute("INSERT INTO albums (id, name, created_at) VALUES (?, ?, ?)", (a["id"], a["name"], a["created_at"]))
            db.executemany(
                "INSERT INTO album_files (album_id, file_id, added_at) VALUES (?, ?, ?)",
                [(a["id"], m["file_id"], m["added_at"]) for m in a["files"]],
            )
        db.executemany(
            "INSERT INTO favourites (file_id, added_at) VALUES (?, ?)",
            [(m["file_id"], m["added_at"]) for m in data.get("favourites", [])],
        )
        from gallerfs.db.faces import restore_people

        restore_people(db, data.get("people"))
        bump_generation(db)
    return {
        "sources": len(data["sources"]),
        "files": len(data["files"]),
        "albums": len(data.get("albums", [])),
        "favourites": len(data.get("favourites", [])),
    }
