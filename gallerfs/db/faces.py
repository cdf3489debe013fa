"""Faces and people: the files still to scan, storing what the detector found, the faces clustering
reads and the assignments it writes, the user's decisions (names, merges, splits, rejections), and the
reads the CLI, mount and viewer make.

The user's decisions are kept on the rows (``faces.confirmed``, ``face_rejections``, ``persons.name``);
when a changed photo is scanned again, each new face inherits them from the old face of that photo it
matches (:func:`store_scan`), so a re-index keeps a face's person. See the m0022 migration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from gallerfs.db import analysis
from gallerfs.db.analysis import FileTask
from gallerfs.db.connection import Database
from gallerfs.db.tree import FileRow, file_rows
from gallerfs.errors import GallerfsError

if TYPE_CHECKING:  # numpy loads only where vectors are read or written: the mount and completion list names
    import numpy as np

DIM = 128
# A new face of a re-scanned photo inherits the decisions of the old face it is this close to.
CARRY_OVER_DISTANCE = 0.45


@dataclass(frozen=True)
class FaceTask(FileTask):
    kind: str
    processed: bool  # phase 2 is done (the preview thumbnail is current)
    online: bool
    width: int | None  # upright original size from metadata, when phase 2 read it
    height: int | None


@dataclass(frozen=True)
class FoundFace:
    x: int
    y: int
    w: int
    h: int
    score: float
    embedding: np.ndarray  # float32[128]


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    faces: int
    photos: int
    cover_face: int | None  # a face to show for the person (the surest one)
    created_at: float

    @property
    def label(self) -> str:
        return self.name if self.name else f"person {self.id}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label, "faces": self.faces, "photos": self.photos,
                "cover_face": self.cover_face, "created_at": self.created_at}  # fmt: skip


@dataclass(frozen=True)
class Face:
    id: int
    file_id: int
    x: int
    y: int
    w: int
    h: int
    score: float | None
    person_id: int | None
    confirmed: bool

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# -- the job's file selection ---------------------------------------------------------------------------
# Photos and videos whose phase 2 is done (scanned from the preview thumbnail, even while offline), and
# photos on online sources not processed yet (from the original); not files phase 2 failed on (their
# error is recorded once, by phase 2). One source at a time, so that a per-source switch can leave a
# whole source out.
_TODO_WHERE = (
    "FROM files f JOIN sources s ON s.id = f.source_id LEFT JOIN face_scans fs ON fs.file_id = f.id "
    "LEFT JOIN metadata m ON m.file_id = f.id "
    f"WHERE f.source_id = ? AND {analysis.KINDS_IN} "
    "AND (f.state = 'done' OR (f.state = 'pending' AND f.kind = 'image' AND s.online = 1)) "
    f"AND {analysis.needs('fs')}"
)


def count_todo(db: Database, source_id: int) -> int:
    return int(db.value(f"SELECT count(*) {_TODO_WHERE}", (source_id,)))


def todo_batch(db: Database, source_id: int, after_id: int, limit: int) -> list[FaceTask]:
    rows = db.tuples(
        f"SELECT f.id, f.source_id, f.relpath, s.path, f.size, f.mtime_ns, f.kind, f.state = 'done', s.online, "
        f"m.width, m.height {_TODO_WHERE} AND f.id > ? ORDER BY f.id LIMIT ?",
        (source_id, after_id, limit),
    )
    return [FaceTask(r[0], r[1], bytes(r[2]), bytes(r[3]), r[4], r[5], r[6], bool(r[7]), bool(r[8]), r[9], r[10])
            for r in rows]  # fmt: skip


# -- storing a scan ------------------------------------------------------------------------------------
def _vector(blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype=np.float32)


def store_scan(db: Database, task: FaceTask, found: Sequence[FoundFace] | None, error: str | None) -> bool:
    """Record one file's faces (or its error); call inside a transaction. A file that changed meanwhile
    is left for next time (False). New faces replace the file's old ones, each inheriting the person,
    confirmation and rejections of the old face it matches (nearest embedding, one to one)."""
    import numpy as np

    if not analysis.unchanged(db, task):
        return False
    now = time.time()
    old = db.tuples("SELECT id, embedding, person_id, confirmed FROM faces WHERE file_id = ?", (task.file_id,))
    rejected: dict[int, list[int]] = {}
    for face_id, person_id in db.tuples(
        "SELECT r.face_id, r.person_id FROM face_rejections r JOIN faces f ON f.id = r.face_id WHERE f.file_id = ?",
        (task.file_id,),
    ):
        rejected.setdefault(face_id, []).append(person_id)
    db.execute("DELETE FROM faces WHERE file_id = ?", (task.file_id,))
    found = list(found or [])
    inherit = _match_old(old, found)
    for i, face in enumerate(found):
        prior = inherit.get(i)
        person_id, confirmed = (prior[2], prior[3]) if prior else (None, 0)
        db.execute(
            "INSERT INTO faces (file_id, x, y, w, h, score, embedding, person_id, confirmed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (task.file_id, face.x, face.y, face.w, face.h, face.score,
             np.ascontiguousarray(face.embedding, dtype=np.float32).tobytes(), person_id, confirmed, now),
        )  # fmt: skip
        if prior:
            new_id = db.last_rowid()
            db.executemany("INSERT INTO face_rejections (face_id, person_id) VALUES (?, ?)",
                           [(new_id, p) for p in rejected.get(prior[0], [])])  # fmt: skip
    analysis.mark(db, "face_scans", task, error, faces=len(found), scanned_at=now)
    return True


def _match_old(old: list[tuple[Any, ...]], found: list[FoundFace]) -> dict[int, tuple[Any, ...]]:
    """new face index -> the old face row it takes over (greedy, nearest pairs first)."""
    import numpy as np

    if not old or not found:
        return {}
    a = np.stack([f.embedding.astype(np.float32) for f in found])
    b = np.stack([_vector(r[1]) for r in old])
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    out: dict[int, tuple[Any, ...]] = {}
    used: set[int] = set()
    for flat in np.argsort(d, axis=None):
        i, j = divmod(int(flat), len(old))
        if d[i, j] > CARRY_OVER_DISTANCE:
            break
        if i in out or j in used:
            continue
        out[i] = old[j]
        used.add(j)
    return out


# -- clustering's reads and writes --------------------------------------------------------------------
@dataclass
class ClusterInput:
    ids: np.ndarray  # int64[n] face ids
    persons: np.ndarray  # int64[n] person id, 0 = none
    confirmed: np.ndarray  # bool[n]
    vectors: np.ndarray  # float32[n, 128]
    rejections: dict[int, set[int]]  # face id -> persons it is not


def cluster_input(db: Database) -> ClusterInput:
    import numpy as np

    rows = db.tuples("SELECT id, coalesce(person_id, 0), confirmed, embedding FROM faces ORDER BY id")
    rejections: dict[int, set[int]] = {}
    for face_id, person_id in db.tuples("SELECT face_id, person_id FROM face_rejections"):
        rejections.setdefault(int(face_id), set()).add(int(person_id))
    n = len(rows)
    vectors = np.empty((n, DIM), dtype=np.float32)
    for i, r in enumerate(rows):
        vectors[i] = _vector(r[3])
    return ClusterInput(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        persons=np.array([r[1] for r in rows], dtype=np.int64),
        confirmed=np.array([bool(r[2]) for r in rows], dtype=bool),
        vectors=vectors,
        rejections=rejections,
    )


def count_unclustered(db: Database) -> int:
    return int(db.value("SELECT count(*) FROM faces WHERE person_id IS NULL"))


def new_person(db: Database, name: str | None = None) -> int:
    now = time.time()
    db.execute("INSERT INTO persons (name, created_at, named_at) VALUES (?, ?, ?)",
               (name, now, now if name else None))  # fmt: skip
    return db.last_rowid()


def assign(db: Database, assignments: Iterable[tuple[int, int]]) -> None:
    """(face id, person id) pairs chosen by clustering (never touches confirmed faces)."""
    db.executemany("UPDATE faces SET person_id = ? WHERE id = ? AND confirmed = 0",
                   [(p, f) for f, p in assignments])  # fmt: skip


def clear_automatic(db: Database) -> int:
    """Forget every assignment clustering made (a full re-cluster); the user's stay."""
    db.execute("UPDATE faces SET person_id = NULL WHERE confirmed = 0 AND person_id IS NOT NULL")
    return db.changes()


def drop_empty_persons(db: Database) -> int:
    """Unnamed persons left without faces disappear; named ones stay (a name is the user's)."""
    db.execute("DELETE FROM persons WHERE name IS NULL AND id NOT IN "
               "(SELECT person_id FROM faces WHERE person_id IS NOT NULL)")  # fmt: skip
    return db.changes()


# -- the user's decisions ---------------------------------------------------------------------------
def get_person(db: Database, person_id: int) -> Person | None:
    found = [p for p in list_persons(db, person_id=person_id)]
    return found[0] if found else None


# The one rule for which person a text names: the exact name, else the name in any case, else
# 'person N' or 'N' (the label and id of 'gallerfs people'). Four parameters, all the text, trimmed.
PERSON_ID_SQL = (
    "SELECT id FROM (SELECT id, 0 AS k FROM persons WHERE name = ?1 "
    "UNION ALL SELECT id, 1 FROM persons WHERE lower(name) = lower(?1) "
    "UNION ALL SELECT id, 2 FROM persons WHERE 'person ' || id = lower(?1) OR CAST(id AS TEXT) = ?1) "
    "ORDER BY k, id LIMIT 1"
)


def person_filter_sql(file_id: str, text: str) -> tuple[str, list[Any]]:
    """The search filter 'photos this person is in', as SQL over the file id expression *file_id*."""
    return (f"{file_id} IN (SELECT fa.file_id FROM faces fa WHERE fa.person_id = ({PERSON_ID_SQL}))",
            [text.strip()])  # fmt: skip


def find_person(db: Database, name_or_id: str) -> Person:
    """A person by name (exact, then case-insensitive), by 'person N', or by id (``PERSON_ID_SQL``)."""
    row = db.value(PERSON_ID_SQL, (name_or_id.strip(),))
    person = get_person(db, int(row)) if row is not None else None
    if person is None:
        raise GallerfsError(f"no person {name_or_id!r} (see 'gallerfs people')")
    return person


def set_name(db: Database, person_id: int, name: str | None) -> None:
    """Name (or unname) a person; its faces become the user's (clustering never moves them again)."""
    if name is not None:
        taken = db.value("SELECT id FROM persons WHERE name = ? AND id != ?", (name, person_id))
        if taken is not None:
            raise GallerfsError(f"another person is already called {name!r} (merge them with 'gallerfs people merge')")
    db.execute("UPDATE persons SET name = ?, named_at = ? WHERE id = ?", (name, time.time(), person_id))
    db.execute("UPDATE faces SET confirmed = 1 WHERE person_id = ?", (person_id,))


def merge(db: Database, into: int, other: int) -> int:
    """Every face of *other* becomes *into*'s (confirmed); *other* is deleted. Returns faces moved."""
    db.execute("UPDATE faces SET person_id = ?, confirmed = 1 WHERE person_id = ?", (into, other))
    moved = db.changes()
    db.execute("UPDATE faces SET confirmed = 1 WHERE person_id = ?", (into,))
    # A rejection of either now means "not this merged person".
    db.execute("INSERT OR IGNORE INTO face_rejections (face_id, person_id) "
               "SELECT face_id, ? FROM face_rejections WHERE person_id = ?", (into, other))  # fmt: skip
    name = db.value("SELECT name FROM persons WHERE id = ?", (other,))
    db.execute("DELETE FROM persons WHERE id = ?", (other,))
    if name is not None and db.value("SELECT name FROM persons WHERE id = ?", (into,)) is None:
        db.execute("UPDATE persons SET name = ?, named_at = ? WHERE id = ?", (name, time.time(), into))
    return moved


def name_taken(db: Database, name: str) -> bool:
    return db.value("SELECT 1 FROM persons WHERE name = ?", (name,)) is not None


def move_faces(db: Database, face_ids: Sequence[int], to_person: int) -> int:
    """Put faces into a person as the user's decision (a split); each is also marked as not being the
    person it leaves, so clustering never puts it back."""
    db.executemany(
        "INSERT OR IGNORE INTO face_rejections (face_id, person_id) SELECT id, person_id FROM faces "
        "WHERE id = ? AND person_id IS NOT NULL AND person_id != ?", [(f, to_person) for f in face_ids])  # fmt: skip
    db.executemany("UPDATE faces SET person_id = ?, confirmed = 1 WHERE id = ?", [(to_person, f) for f in face_ids])
    return len(face_ids)


def reject(db: Database, face_id: int) -> int | None:
    """"This face is not its person": remembered, and the face is left for clustering. Returns the person."""
    person_id = db.value("SELECT person_id FROM faces WHERE id = ?", (face_id,))
    if person_id is not None:
        db.execute("INSERT OR IGNORE INTO face_rejections (face_id, person_id) VALUES (?, ?)", (face_id, person_id))
    db.execute("UPDATE faces SET person_id = NULL, confirmed = 0 WHERE id = ?", (face_id,))
    return int(person_id) if person_id is not None else None


# -- reads -----------------------------------------------------------------------------------------
def list_persons(db: Database, *, person_id: int | None = None) -> list[Person]:
    """People, the most photographed first (persons with no faces yet, named ones, last)."""
    where = "WHERE p.id = ?" if person_id is not None else ""
    rows = db.tuples(
        "SELECT p.id, p.name, count(f.id), count(DISTINCT f.file_id), "
        "(SELECT id FROM faces c WHERE c.person_id = p.id ORDER BY c.confirmed DESC, c.w * c.h DESC, c.id LIMIT 1), "
        f"p.created_at FROM persons p LEFT JOIN faces f ON f.person_id = p.id {where} "
        "GROUP BY p.id ORDER BY count(DISTINCT f.file_id) DESC, count(f.id) DESC, p.id",
        (person_id,) if person_id is not None else (),
    )
    return [Person(int(r[0]), r[1], int(r[2]), int(r[3]), r[4], float(r[5])) for r in rows]


def faces_of_person(db: Database, person_id: int, limit: int = 1000) -> list[Face]:
    return [Face(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in db.tuples(
        "SELECT id, file_id, x, y, w, h, score, person_id, confirmed FROM faces WHERE person_id = ? "
        "ORDER BY confirmed DESC, file_id, id LIMIT ?", (person_id, limit))]  # fmt: skip


def faces_in_file(db: Database, file_id: int) -> list[Face]:
    return [Face(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8])) for r in db.tuples(
        "SELECT id, file_id, x, y, w, h, score, person_id, confirmed FROM faces WHERE file_id = ? ORDER BY x, id",
        (file_id,))]  # fmt: skip


def get_face(db: Database, face_id: int) -> Face | None:
    rows = db.tuples("SELECT id, file_id, x, y, w, h, score, person_id, confirmed FROM faces WHERE id = ?",
                     (face_id,))  # fmt: skip
    return Face(rows[0][0], rows[0][1], rows[0][2], rows[0][3], rows[0][4], rows[0][5], rows[0][6], rows[0][7],
                bool(rows[0][8])) if rows else None  # fmt: skip


def person_file_ids(db: Database, person_id: int) -> list[int]:
    return [int(r[0]) for r in db.tuples(
        "SELECT DISTINCT file_id FROM faces WHERE person_id = ? ORDER BY file_id", (person_id,))]  # fmt: skip


def person_files(db: Database, person_id: int) -> list[FileRow]:
    """The library files a person is in (for the mount's people/<name>/), by name."""
    rows = file_rows(db, person_file_ids(db, person_id))
    return sorted(rows.values(), key=lambda r: (r.name, r.id))


def person_names(db: Database) -> list[str]:
    return [str(r[0]) for r in db.tuples("SELECT name FROM persons WHERE name IS NOT NULL ORDER BY name")]


def counts(db: Database) -> dict[str, int]:
    return {
        "faces": int(db.value("SELECT count(*) FROM faces")),
        "persons": int(db.value("SELECT count(*) FROM persons")),
        "named": int(db.value("SELECT count(*) FROM persons WHERE name IS NOT NULL")),
        "scanned": int(db.value("SELECT count(*) FROM face_scans")),
        "unclustered": int(db.value("SELECT count(*) FROM faces WHERE person_id IS NULL")),
    }


# -- export / import --------------------------------------------------------------------------------
def export_people(db: Database) -> dict[str, Any]:
    """Persons, faces (boxes, embeddings as lists of floats, person, confirmation) and rejections."""
    persons = db.rows("SELECT id, name, created_at, named_at FROM persons ORDER BY id")
    faces = []
    for r in db.tuples("SELECT id, file_id, x, y, w, h, score, embedding, person_id, confirmed, created_at "
                       "FROM faces ORDER BY id"):  # fmt: skip
        faces.append({"id": r[0], "file_id": r[1], "box": [r[2], r[3], r[4], r[5]], "score": r[6],
                      "embedding": [round(float(v), 6) for v in _vector(r[7])], "person_id": r[8],
                      "confirmed": bool(r[9]), "created_at": r[10]})  # fmt: skip
    rejections = db.rows("SELECT face_id, person_id FROM face_rejections ORDER BY face_id, person_id")
    scans = db.rows("SELECT file_id, size, mtime_ns, state, error, faces, scanned_at FROM face_scans ORDER BY file_id")
    return {"persons": persons, "faces": faces, "rejections": rejections, "scans": scans}


def restore_people(db: Database, data: dict[str, Any] | None) -> int:
    """Write exported people into the library (inside the import's transaction); returns faces restored."""
    import numpy as np

    if not data:
        return 0
    db.executemany("INSERT INTO persons (id, name, created_at, named_at) VALUES (?, ?, ?, ?)",
                   [(p["id"], p["name"], p["created_at"], p.get("named_at")) for p in data.get("persons", [])])
    for f in data.get("faces", []):
        x, y, w, h = f["box"]
        db.execute(
            "INSERT INTO faces (id, file_id, x, y, w, h, score, embedding, person_id, confirmed, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f["id"], f["file_id"], x, y, w, h, f.get("score"), np.asarray(f["embedding"], dtype=np.float32).tobytes(),
             f.get("person_id"), int(bool(f.get("confirmed"))), f["created_at"]),
        )  # fmt: skip
    db.executemany("INSERT INTO face_rejections (face_id, person_id) VALUES (?, ?)",
                   [(r["face_id"], r["person_id"]) for r in data.get("rejections", [])])
    db.executemany(
        "INSERT INTO face_scans (file_id, size, mtime_ns, state, error, faces, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(s["file_id"], s["size"], s["mtime_ns"], s["state"], s.get("error"), s["faces"], s["scanned_at"])
         for s in data.get("scans", [])],
    )  # fmt: skip
    return len(data.get("faces", []))


def crop_source(db: Database, face_id: int) -> tuple[Face, int | None, int | None, str | None] | None:
    """A face with the upright original's size (metadata) and the file's content key (for caching)."""
    face = get_face(db, face_id)
    if face is None:
        return None
    row = db.tuples("SELECT m.width, m.height, coalesce(f.content_hash, f.size || '-' || f.mtime_ns) FROM files f "
                    "LEFT JOIN metadata m ON m.file_id = f.id WHERE f.id = ?", (face.file_id,))  # fmt: skip
    if not row:
        return None
    return face, row[0][0], row[0][1], row[0][2]
