"""Duplicate sets as users see them: exact and near sets, each with its keeper and reclaimable space.

Suggested keeper: the largest resolution, then the original (camera EXIF
present, then the larger file: a re-encode is smaller), then the earliest date
(taken, else file time), then the shortest path. A keeper the user chose
(``duplicate_keepers``) wins; the latest choice wins within a set.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from indexer.duplicates.exact import HashStats, find_exact
from indexer.duplicates.near import HashedFile, PairCheck, find_near

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DuplicateSet:
    kind: str  # 'exact' or 'near'
    key: str  # 'exact:<sha256>' or 'near:<smallest file id>'
    members: tuple[DupFile, ...]  # keeper first, then the others in suggested order
    keeper_chosen: bool  # the keeper is the user's choice, not the suggestion
    distance: int  # exact: 0; near: largest pHash distance that joined the set

    @property
    def keeper(self) -> DupFile:
        return self.members[0]

    @property
    def reclaimable(self) -> int:
        """Bytes freed by trashing every copy but the keeper (hard links to the keeper free nothing)."""
        keep = (self.keeper.device, self.keeper.inode)
        seen = {keep}
        total = 0
        for m in self.members[1:]:
            if (m.device, m.inode) not in seen:
                seen.add((m.device, m.inode))
                total += m.size
        return total

    @property
    def total_size(self) -> int:
        return sum(m.size for m in self.members)


def _date_key(f: DupFile) -> tuple[str, int]:
    return (f.taken_at or "9999", f.mtime_ns)


def keeper_order(f: DupFile) -> tuple:
    """Sort key: the best keeper sorts first."""
    has_camera = bool(f.make or f.model)
    return (-f.pixels, not has_camera, -f.size, _date_key(f), len(f.path), f.path, f.id)


def arrange(
    kind: str,
    key: str,
    members: Sequence[DupFile],
    choices: dict[int, float],
    distance: int,
) -> DuplicateSet:
    ordered = sorted(members, key=keeper_order)
    chosen = [m for m in ordered if m.id in choices]
    if chosen:
        keeper = max(chosen, key=lambda m: (choices[m.id], m.id))
        ordered.remove(keeper)
        ordered.insert(0, keeper)
    return DuplicateSet(kind, key, tuple(ordered), bool(chosen), distance)


def clip_check(db: Database, min_similarity: float) -> PairCheck | None:
    """A pair filter on CLIP cosine similarity, or None when the library has no embeddings."""
    try:
        from gallerfs.db import embeddings as emb
    except ImportError:  # embeddings not part of this build
        return None
    try:
        if emb.space(db) is None:
            return None
    except Exception as exc:  # noqa: BLE001  (an older library without the tables)
        log.debug("no embeddings: %s", exc)
        return None

    def check(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        wanted = np.unique(np.concatenate([a, b]))
        ids, matrix = emb.vectors_for(db, wanted.tolist())
        keep = np.ones(len(a), dtype=bool)
        if len(ids) == 0:
            return keep
        order = np.argsort(ids)
        ids, matrix = ids[order], matrix[order]
        ia = np.clip(np.searchsorted(ids, a), 0, len(ids) - 1)
        ib = np.clip(np.searchsorted(ids, b), 0, len(ids) - 1)
        both = (ids[ia] == a) & (ids[ib] == b)
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        cos = np.einsum("ij,ij->i", matrix[ia[both]], matrix[ib[both]]) / (
            norms[ia[both]] * norms[ib[both]]
        )
        keep[both] = cos >= min_similarity
        return keep

    return check


def exact_sets(db: Database, stats: HashStats | None = None) -> list[DuplicateSet]:
    choices = dupdb.keeper_choices(db)
    found = find_exact(db, stats)
    return [
        arrange("exact", f"exact:{s.content_hash}", s.members, choices, 0)
        for s in found
    ]


def near_sets(db: Database, settings: Settings) -> list[DuplicateSet]:
    """Near-duplicate sets, leaving out those whose members are all one exact set."""
    rows = dupdb.perceptual_hashes(db)
    hashed = [HashedFile(r[0], r[1], r[2]) for r in rows]
    info: dict[int, DupFile] = {}

    def flat_path(file_id: int) -> bytes | None:
        f = info.get(file_id) or dupdb.file_info(db, file_id)
        return f.path if f is not None and f.online else None

    groups = find_near(
        hashed,
        max_distance=settings.near_duplicate_distance,
        max_group=settings.near_duplicate_max_group,
        check=clip_check(db, settings.near_duplicate_min_similarity),
        flat_path=flat_path,
        flat_ids=dupdb.hashless_images(db),
    )
    info = dupdb.files_by_ids(db, (i for g in groups for i in g.ids))
    choices = dupdb.keeper_choices(db)
    out = []
    for g in groups:
        members = [info[i] for i in g.ids if i in info]
        hashes = {m.content_hash for m in members}
        if len(members) < 2 or (len(hashes) == 1 and None not in hashes):
            continue
        out.append(
            arrange("near", f"near:{min(g.ids)}", members, choices, g.max_distance)
        )
    return out


def find_sets(
    db: Database,
    settings: Settings,
    *,
    exact: bool = True,
    near: bool = True,
    stats: HashStats | None = None,
) -> list[DuplicateSet]:
    """Exact sets, then near sets, each largest reclaimable space first."""
    out: list[DuplicateSet] = []
    if exact:
        out.extend(sorted(exact_sets(db, stats), key=lambda s: (-s.reclaimable, s.key)))
    if near:
        out.extend(
            sorted(near_sets(db, settings), key=lambda s: (-s.reclaimable, s.key))
        )
    return out


def set_of(db: Database, settings: Settings, file_id: int) -> DuplicateSet | None:
    """The set a file belongs to: its exact set if it has one, else its near set."""
    for s in find_sets(db, settings, near=False):
        if any(m.id == file_id for m in s.members):
            return s
    for s in near_sets(db, settings):
        if any(m.id == file_id for m in s.members):
            return s
    return None

