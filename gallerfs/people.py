"""People: grouping faces into persons, and the user's edits of those groups.

Clustering is incremental. Faces already in a person stay there; each face not yet in one joins the
person of its nearest clustered face when that face is closer than the threshold (the ``face_distance``
setting) and the person is not one the user said it is not. The faces left over are grouped among
themselves: faces closer than the threshold are linked, and each connected group becomes a new person
(a single face is a person of one).

The threshold is 0.5, stricter than dlib's usual 0.6, from real photos: three different photos of
Barack Obama (tests/data/faces) lie 0.23-0.43 apart, and different people 0.77-1.00 there; but in the
test corpus a small (62 px) face in an old black-and-white portrait (DudleyLeavittUtah.tiff) lies 0.53
from a modern portrait of someone else, which 0.6 merged into one person. A person split in two is one
``merge`` away; a wrong merge puts a stranger's photos under a name.

The CLI (``gallerfs people``) and the viewer's People page make the same edits through the functions
here: naming a person, merging two, splitting faces off into a new person, and removing a face ("not
this person"). Every edit is a decision clustering keeps: the faces involved are marked confirmed and
never moved again, and a removed face is never put back into that person. ``recluster`` forgets only
what clustering itself decided.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from gallerfs.db import faces as faces_db
from gallerfs.db.connection import Database
from gallerfs.db.state import bump_generation
from gallerfs.errors import GallerfsError

log = logging.getLogger(__name__)

THRESHOLD = 0.5  # the default of the face_distance setting (see above)
_CHUNK = 256  # unclustered faces compared against the library at a time (bounds memory)


@dataclass
class ClusterReport:
    joined: int = 0  # faces that joined an existing person
    new_persons: int = 0  # persons formed from faces no person was near
    grouped: int = 0  # faces in those new persons

    def as_dict(self) -> dict[str, Any]:
        return {"joined": self.joined, "new_persons": self.new_persons, "grouped": self.grouped}


def _components(vectors: np.ndarray, threshold: float) -> list[list[int]]:
    """Groups of row indices linked by distances below the threshold (union-find over all pairs)."""
    n = len(vectors)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, n, _CHUNK):
        block = vectors[start : start + _CHUNK]
        d = np.linalg.norm(block[:, None, :] - vectors[None, :, :], axis=2)
        for bi, j in zip(*np.nonzero(d < threshold)):
            i = start + int(bi)
            if int(j) > i:
                ri, rj = root(i), root(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def plan(data: faces_db.ClusterInput, threshold: float = THRESHOLD) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """What clustering would do: (face id, existing person id) joins, and groups of face ids that form
    new persons. Pure: no database."""
    clustered = data.persons != 0
    todo = np.flatnonzero(~clustered)
    if not len(todo):
        return [], []
    joins: list[tuple[int, int]] = []
    left: list[int] = []
    ref_vectors = data.vectors[clustered]
    ref_persons = data.persons[clustered]
    for start in range(0, len(todo), _CHUNK):
        rows = todo[start : start + _CHUNK]
        if not len(ref_vectors):
            left.extend(int(r) for r in rows)
            continue
        d = np.linalg.norm(data.vectors[rows][:, None, :] - ref_vectors[None, :, :], axis=2)
        for k, row in enumerate(rows):
            rejected = data.rejections.get(int(data.ids[row]))
            dist = d[k]
            if rejected:
                dist = np.where(np.isin(ref_persons, list(rejected)), np.inf, dist)
            j = int(np.argmin(dist))
            if dist[j] < threshold:
                joins.append((int(data.ids[row]), int(ref_persons[j])))
            else:
                left.append(int(row))
    groups = [[int(data.ids[left[i]]) for i in g] for g in _components(data.vectors[left], threshold)] if left else []
    return joins, groups


def cluster(db: Database, threshold: float = THRESHOLD) -> ClusterReport:
    """Put every face not in a person into one (see the module's description)."""
    if not faces_db.count_unclustered(db):  # the usual case of a re-index: nothing to read
        return ClusterReport()
    data = faces_db.cluster_input(db)  # read outside the write: cheap to redo if the library moved on
    joins, groups = plan(data, threshold)
    report = ClusterReport()
    if not joins and not groups:
        return report
    with db.transaction():
        faces_db.assign(db, joins)
        for group in groups:
            person = faces_db.new_person(db)
            faces_db.assign(db, [(f, person) for f in group])
        bump_generation(db)
    report.joined = len(joins)
    report.new_persons = len(groups)
    report.grouped = sum(len(g) for g in groups)
    log.info("faces clustered: %d joined a person, %d new persons", report.joined, report.new_persons)
    return report


def recluster(db: Database, threshold: float = THRESHOLD) -> ClusterReport:
    """Cluster from scratch, keeping every decision of the user's (names, merges, splits, removals)."""
    with db.transaction():
        faces_db.clear_automatic(db)
        faces_db.drop_empty_persons(db)
        bump_generation(db)
    report = cluster(db, threshold)
    with db.transaction():
        faces_db.drop_empty_persons(db)
    return report


def check_name(name: str) -> str:
    text = name.strip()
    if not text:
        raise GallerfsError("a person's name cannot be empty")
    if "/" in text or text in (".", ".."):
        raise GallerfsError(f"{name!r} cannot be a person's name (it would not be a folder name under people/)")
    if text.lower().startswith("person ") and text[7:].strip().isdigit():
        raise GallerfsError(f"{name!r} looks like an unnamed person's label; choose another name")
    return text


def rename(db: Database, who: str, name: str | None) -> faces_db.Person:
    """Name a person (None: forget the name); the person's faces stay theirs across re-clustering."""
    person = faces_db.find_person(db, who)
    new_name = check_name(name) if name is not None else None
    with db.transaction():
        faces_db.set_name(db, person.id, new_name)
        bump_generation(db)
    found = faces_db.get_person(db, person.id)
    assert found is not None
    return found


def merge(db: Database, into: str, others: Sequence[str]) -> faces_db.Person:
    """Merge persons into the first (which keeps its id and, if it has one, its name)."""
    target = faces_db.find_person(db, into)
    merged = [faces_db.find_person(db, o) for o in others]
    if any(m.id == target.id for m in merged):
        raise GallerfsError("cannot merge a person into itself")
    named = [p.name for p in [target, *merged] if p.name]
    if len(set(named)) > 1 and target.name is None:
        raise GallerfsError(f"these persons have different names ({', '.join(named)}): name the first one, or "
                            "merge into a named one")  # fmt: skip
    with db.transaction():
        for m in merged:
            faces_db.merge(db, target.id, m.id)
        bump_generation(db)
    found = faces_db.get_person(db, target.id)
    assert found is not None
    return found


def _faces(db: Database, face_ids: Sequence[int]) -> list[faces_db.Face]:
    faces = []
    for face_id in face_ids:
        face = faces_db.get_face(db, face_id)
        if face is None:
            raise GallerfsError(f"no face {face_id} (see 'gallerfs people show')")
        faces.append(face)
    return faces


def split(db: Database, face_ids: Sequence[int], name: str | None = None) -> faces_db.Person:
    """Move faces into a new person (named, when a name is given); the faces stay there."""
    if not face_ids:
        raise GallerfsError("name at least one face to split off")
    new_name = check_name(name) if name is not None else None
    faces = _faces(db, face_ids)
    with db.transaction():
        if new_name is not None and faces_db.name_taken(db, new_name):
            raise GallerfsError(f"another person is already called {new_name!r}")
        person = faces_db.new_person(db, new_name)
        faces_db.move_faces(db, [f.id for f in faces], person)
        faces_db.drop_empty_persons(db)
        bump_generation(db)
    found = faces_db.get_person(db, person)
    assert found is not None
    return found


def remove_faces(db: Database, face_ids: Sequence[int], threshold: float = THRESHOLD) -> ClusterReport:
    """"Not this person": each face leaves its person for good and is clustered again without it."""
    faces = _faces(db, face_ids)
    with db.transaction():
        for face in faces:
            faces_db.reject(db, face.id)
        faces_db.drop_empty_persons(db)
        bump_generation(db)
    return cluster(db, threshold)
