"""Near duplicates: perceptual-hash neighbours, checked with CLIP where embedded, grouped with a bound.

- Candidate pairs come from multi-index hashing (`mih.near_pairs`), never
  from a pass over all pairs: pHash within `max_distance`, and also dHash
  within `max_distance` with pHash within twice that (small crops move a
  pHash by 8-12 bits while the dHash stays close; needing both keeps
  unrelated photos apart).
- Where both files of a pair have a CLIP embedding, the pair also needs a
  cosine similarity of at least `min_similarity` (a pHash can collide for
  different pictures; CLIP rarely agrees with it by accident).
- A hash match alone never makes a set: the caller's check compares the
  pictures themselves (``look.same_picture``: tiny, flat and low-detail
  images need pixel agreement, bursts and other shots of a scene are told
  apart from copies).
- Flat images (solid-colour placeholders) would all get the same hashes;
  the indexer stores none for them (older libraries: dHash 0). They are never
  paired through a hash; instead two flat images pair only when their pixel
  size and colour match (pixel-identical copies with different metadata do;
  a white 100x150 and a black 120x80, or a white 100x150 and 200x300, do not).
- Groups grow transitively along the closest pairs first (Kruskal order), and
  two groups merge only while the result stays within `max_group`, so one
  chain of slightly-different photos cannot swallow the library.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gallerfs.indexer.duplicates.look import Look, same_picture
from gallerfs.indexer.duplicates.mih import near_pairs, to_unsigned

log = logging.getLogger(__name__)

FLAT_DHASHES = frozenset({0, -1})

# Checks a batch of candidate pairs (file ids) and returns which to keep.
PairCheck = Callable[[np.ndarray, np.ndarray], np.ndarray]
# (files, max_distance) -> (i, j, pHash distance) of the candidate pairs, as ``candidate_pairs``.
PairFinder = Callable[[Sequence["HashedFile"], int], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class HashedFile:
    id: int
    phash: int
    dhash: int | None


@dataclass(frozen=True)
class NearGroup:
    ids: tuple[int, ...]
    max_distance: int  # the largest pHash distance of the pairs that joined it


class _Groups:
    """Union-find with component sizes and a cap on the merged size."""

    def __init__(self, n: int, cap: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n
        self.worst = [0] * n
        self.cap = cap

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def union(self, a: int, b: int, dist: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.size[ra] + self.size[rb] > self.cap:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.worst[ra] = max(self.worst[ra], self.worst[rb], dist)
        return True


def group_pairs(
    n: int, ii: np.ndarray, jj: np.ndarray, dist: np.ndarray, max_group: int
) -> list[tuple[list[int], int]]:
    """Transitive groups (indices, worst distance) from scored pairs, closest pairs first, capped in size."""
    groups = _Groups(n, max(2, max_group))
    order = np.lexsort((jj, ii, dist))
    for a, b, d in zip(ii[order].tolist(), jj[order].tolist(), dist[order].tolist()):
        groups.union(a, b, d)
    members: dict[int, list[int]] = defaultdict(list)
    touched = np.unique(np.concatenate([ii, jj])) if len(ii) else np.empty(0, np.int64)
    for i in touched.tolist():
        members[groups.find(i)].append(i)
    return [
        (sorted(m), int(groups.worst[root]))
        for root, m in members.items()
        if len(m) > 1
    ]


def find_near(
    files: Sequence[HashedFile],
    *,
    max_distance: int,
    max_group: int,
    check: PairCheck | None = None,
    flat_look: Callable[[int], Look | None] | None = None,
    flat_ids: Sequence[int] = (),
    pairs: PairFinder | None = None,
) -> list[NearGroup]:
    """Near-duplicate groups among files with a perceptual hash.

    check: filter over candidate pairs (ids): the pixel check of ``look``, and CLIP where embedded.
    flat_ids: images without a perceptual hash because they are flat (paired by size and colour).
    flat_look: the Look of a file id (None when it cannot be read), for the flat images.
    pairs: finds the candidate pairs (``candidate_pairs``, or a cache of its answers).
    """
    flat = [f.id for f in files if f.dhash in FLAT_DHASHES] + list(flat_ids)
    textured = [f for f in files if f.dhash not in FLAT_DHASHES]
    groups: list[NearGroup] = []
    if len(textured) > 1:
        ids = np.asarray([f.id for f in textured], dtype=np.int64)
        ii, jj, dist = (pairs or candidate_pairs)(textured, max_distance)
        if check is not None and len(ii):
            keep = check(ids[ii], ids[jj])
            ii, jj, dist = ii[keep], jj[keep], dist[keep]
        for members, worst in group_pairs(len(ids), ii, jj, dist, max_group):
            groups.append(NearGroup(tuple(int(ids[i]) for i in members), worst))
    if len(flat) > 1 and flat_look is not None:
        groups.extend(_flat_groups(flat, flat_look, max_group))
    groups.sort(key=lambda g: g.ids[0])
    return groups


def candidate_pairs(
    files: Sequence[HashedFile], max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, pHash distance) of pairs close by pHash, or close by dHash and not far by pHash."""
    phashes = to_unsigned([f.phash for f in files])
    ii, jj, dist = near_pairs(phashes, max_distance)
    with_d = np.asarray(
        [k for k, f in enumerate(files) if f.dhash is not None], dtype=np.int64
    )
    if len(with_d) > 1:
        di, dj, _ = near_pairs(
            to_unsigned([files[k].dhash for k in with_d]), max_distance
        )
        di, dj = with_d[di], with_d[dj]
        pdist = np.bitwise_count(phashes[di] ^ phashes[dj]).astype(np.int64)
        keep = pdist <= 2 * max_distance
        n = len(files)
        codes = np.concatenate([ii * n + jj, di[keep] * n + dj[keep]])
        codes, first = np.unique(codes, return_index=True)
        dist = np.concatenate([dist, pdist[keep]])[first]
        ii, jj = np.divmod(codes, n)
    return ii, jj, dist


def _flat_groups(
    flat: Sequence[int], flat_look: Callable[[int], Look | None], max_group: int
) -> list[NearGroup]:
    """Flat images with the same pixel size and colour: pixel-identical copies."""
    by_key: dict[tuple[int, ...], list[tuple[int, Look]]] = defaultdict(list)
    for file_id in sorted(set(flat)):
        look = flat_look(file_id)
        if look is not None and look.flat and not look.tiny:
            colour = tuple(round(float(c) / 4) for c in look.colour)
            by_key[(look.width, look.height, *colour)].append((file_id, look))
    out = []
    for members in by_key.values():
        first = members[0][1]
        ids = [i for i, look in members if same_picture(first, look)]
        for start in range(0, len(ids), max(2, max_group)):
            chunk = ids[start : start + max(2, max_group)]
            if len(chunk) > 1:
                out.append(NearGroup(tuple(chunk), 0))
    return out
