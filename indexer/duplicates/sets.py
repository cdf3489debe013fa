"""Duplicate sets as users see them: exact and near sets, each with its keeper and reclaimable space.

Each set has a stable ``tag`` (8 hex digits of its key): an exact set's key
is its content hash, a near set's the id of its largest picture (which the
mount never trashes while it is the only full-resolution member), so neither
changes when another member is trashed.

Suggested keeper: the largest resolution, then the original (camera EXIF
present, then the larger file: a re-encode is smaller), then the earliest date
(taken, else file time), then the shortest path. A keeper the user chose
(``duplicate_keepers``) wins; the latest choice wins within a set.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gallerfs.config import Settings
from gallerfs.db import duplicates as dupdb
from gallerfs.db.connection import Database
from gallerfs.db.duplicates import DupFile
from gallerfs.indexer.duplicates.exact import HashStats, find_exact

if TYPE_CHECKING:
    import numpy as np

    from gallerfs.indexer.duplicates.look import Look, LookCache
    from gallerfs.indexer.duplicates.near import PairCheck

# Exact sets need none of numpy, Pillow, the pixel check or the perceptual-hash grouping: those are
# imported by the near-duplicate functions, so that 'duplicates --exact' starts without them.

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DuplicateSet:
    kind: str  # 'exact' or 'near'
    key: str  # 'exact:<sha256>' or 'near:<anchor file id>' (the largest picture); unchanged by trashing others
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

    @property
    def tag(self) -> str:
        """8 hex digits derived from the key: the set's stable short name."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:8]


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
    import numpy as np

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


def pixel_check(db: Database, files: dict[int, DupFile]) -> LookCache:
    """Looks of library files from their cached grid thumbnails (the original where none is cached)."""
    from gallerfs.indexer.duplicates.look import LookCache, load_look

    thumbs = thumbnail_root(db)

    def load(file_id: int) -> Look | None:
        from gallerfs.indexer.thumbnails import thumbnail_path  # Pillow: only once a picture is compared

        f = files.get(file_id) or dupdb.file_info(db, file_id)
        if f is None:
            return None
        files[file_id] = f
        original = f.path if f.online else None
        return load_look(thumbnail_path(thumbs, file_id, "grid"), original, f.width, f.height)

    return LookCache(load)


def thumbnail_root(db: Database) -> Path:
    return db.path.parent / "thumbnails"


def cache_root(db: Database) -> Path:
    """Where the library keeps what can be recomputed (the near pass's candidate pairs)."""
    return db.path.parent / "cache"


def near_sets(db: Database, settings: Settings) -> list[DuplicateSet]:
    """Near-duplicate sets, leaving out those whose members are all one exact set.

    A pair of perceptual-hash neighbours joins a set only when the files are of
    one kind, neither is tiny, their pictures agree (``look.same_picture``) and,
    where both are embedded, CLIP agrees too.
    """
    import numpy as np

    from gallerfs.indexer.duplicates.look import RULE, TINY_PX
    from gallerfs.indexer.duplicates.near import HashedFile, candidate_pairs, find_near
    from gallerfs.indexer.duplicates.pair_cache import cached_pairs

    rows = dupdb.perceptual_hashes(db)
    # Known to be tiny from its metadata (otherwise its Look tells): never a candidate.
    hashed = [HashedFile(r[0], r[1], r[2]) for r in rows if not (r[3] and r[4] and min(r[3], r[4]) < TINY_PX)]
    info: dict[int, DupFile] = {}  # filled for the files that come up in candidate pairs only
    looks = pixel_check(db, info)
    library = str(db.path)  # verdicts are remembered per library, file and version
    clip = clip_check(db, settings.near_duplicate_min_similarity)
    stored: dict[tuple[int, int], tuple[str, int, bool]] | None = None
    new_verdicts: list[tuple[int, int, str, int, bool]] = []

    def verdict(fa: DupFile, fb: DupFile) -> bool:
        nonlocal stored
        if stored is None:
            stored = dupdb.pair_verdicts(db)
        if fa.id > fb.id:
            fa, fb = fb, fa
        stamp = f"{fa.size}:{fa.mtime_ns}:{fb.size}:{fb.mtime_ns}"
        known = stored.get((fa.id, fb.id))
        if known is not None and known[0] == stamp and known[1] == RULE:
            return known[2]
        same = looks.same(fa.id, fb.id, (library, stamp))
        if same is not None:
            new_verdicts.append((fa.id, fb.id, stamp, RULE, same))
        return bool(same)

    def check(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        info.update(dupdb.files_by_ids(db, (i for i in np.concatenate([a, b]).tolist() if i not in info)))
        keep = np.asarray(
            [x in info and y in info and info[x].kind == info[y].kind for x, y in zip(a.tolist(), b.tolist())],
            dtype=bool,
        )
        if clip is not None and keep.any():
            keep &= clip(a, b)
        for k in np.flatnonzero(keep).tolist():
            keep[k] = verdict(info[int(a[k])], info[int(b[k])])
        return keep

    flat_ids = dupdb.hashless_images(db)
    info.update(dupdb.files_by_ids(db, flat_ids))
    groups = find_near(
        hashed,
        max_distance=settings.near_duplicate_distance,
        max_group=settings.near_duplicate_max_group,
        check=check,
        flat_look=looks.get,
        flat_ids=flat_ids,
        pairs=lambda files, distance: cached_pairs(
            cache_root(db), files, distance, lambda: candidate_pairs(files, distance)
        ),
    )
    if new_verdicts and not db.readonly:
        dupdb.store_verdicts(db, new_verdicts)
    info.update(dupdb.files_by_ids(db, (i for g in groups for i in g.ids if i not in info)))
    choices = dupdb.keeper_choices(db)
    out = []
    for g in groups:
        members = [info[i] for i in g.ids if i in info]
        hashes = {m.content_hash for m in members}
        if len(members) < 2 or (len(hashes) == 1 and None not in hashes):
            continue
        out.append(
            arrange("near", f"near:{anchor(members).id}", members, choices, g.max_distance)
        )
    return out


def anchor(members: Sequence[DupFile]) -> DupFile:
    """The member a near set is named after: the largest picture (pixels, then bytes, then the lowest id)."""
    return min(members, key=lambda m: (-m.pixels, -m.size, m.id))


def folder_name(s: DuplicateSet, tag: str | None = None) -> bytes:
    """``3f2a9c1d IMG_0042.jpg`` (exact; named after the keeper) or ``7b1e0c44 IMG_0042.jpg near``
    (named after the largest picture): the tag never changes while the set lives."""
    named = s.keeper if s.kind == "exact" else anchor(s.members)
    name = named.relpath.rpartition(b"/")[2]
    return (tag or s.tag).encode() + b" " + name + (b" near" if s.kind == "near" else b"")


def folder_names(sets: Sequence[DuplicateSet]) -> dict[str, bytes]:
    """Set key -> folder name; two sets of one kind that share 8 hex digits both take 16.

    (Near folders end in `` near``, so an exact and a near set never collide.)
    """
    shared = Counter((s.kind, s.tag) for s in sets)
    return {
        s.key: folder_name(s, hashlib.sha256(s.key.encode()).hexdigest()[:16] if shared[s.kind, s.tag] > 1 else None)
        for s in sets
    }


def only_full_resolution(s: DuplicateSet) -> DupFile | None:
    """The one member of a near set larger than every other (pixels, then bytes); None for a tie or an exact set."""
    if s.kind != "near" or len(s.members) < 2:
        return None
    ranked = sorted(s.members, key=lambda m: (-m.pixels, -m.size))
    first, second = ranked[0], ranked[1]
    return None if (first.pixels, first.size) == (second.pixels, second.size) else first


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

