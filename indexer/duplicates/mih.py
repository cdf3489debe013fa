"""Multi-index hashing: all pairs of 64-bit hashes within a Hamming distance, without an O(n²) pass.

The 64 bits are cut into m chunks. Two hashes within distance d agree, in at
least one chunk, to within r = d // m bits (pigeonhole: m * (r + 1) > d). For
each chunk, every hash probes the table of chunk values at the ≤ r-bit
variations of its own chunk; the candidates found are then checked on all 64
bits. m is chosen to minimise probes plus expected candidates for n hashes.
Everything is vectorised with numpy; pairs are produced in bounded batches.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np

log = logging.getLogger(__name__)

_BATCH_PAIRS = 4_000_000  # candidate pairs checked at once (bounds memory)


def to_unsigned(values: np.ndarray | list[int]) -> np.ndarray:
    """Signed int64 hashes (as stored in SQLite) as uint64."""
    return np.asarray(values, dtype=np.int64).view(np.uint64)


def _chunks(m: int) -> list[tuple[int, int]]:
    """(bit offset, width) of m chunks covering 64 bits."""
    base, extra = divmod(64, m)
    out, offset = [], 0
    for k in range(m):
        width = base + (1 if k < extra else 0)
        out.append((offset, width))
        offset += width
    return out


def _probes(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1))


def choose_chunks(n: int, distance: int) -> int:
    """The number of chunks with the least estimated work for n hashes (uniformly spread)."""
    best_m, best_cost = 1, float("inf")
    for m in range(1, 17):
        chunks = _chunks(m)
        if max(w for _, w in chunks) > 26:  # the dense bucket table would be too big
            continue
        radius = distance // m
        probes = sum(_probes(w, radius) for _, w in chunks)
        candidates = n * sum(_probes(w, radius) * n / (1 << w) for _, w in chunks)
        cost = (
            n * probes + 25 * candidates
        )  # a candidate (sort, dedupe, check) costs far more than a probe
        if cost < best_cost:
            best_m, best_cost = m, cost
    return best_m


def _masks(width: int, radius: int) -> np.ndarray:
    masks = [0]
    for k in range(1, radius + 1):
        for bits in itertools.combinations(range(width), k):
            masks.append(sum(1 << b for b in bits))
    return np.asarray(masks, dtype=np.int32)


def near_pairs(
    hashes: np.ndarray, distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j, hamming), i < j, linking every two hashes within distance of each other.

    Distinct hash values: every such pair. Equal values would make quadratic
    buckets (a thousand identical frames), so their holders are linked as a
    chain (distance 0), and each value's first holder stands for it in the
    pairs between values: the same groups, with linear pairs per value.
    """
    h = np.asarray(hashes, dtype=np.uint64)
    values, inverse = np.unique(h, return_inverse=True)
    if len(values) == len(h):
        return _distinct_pairs(h, distance)
    order = np.argsort(inverse, kind="stable")
    same = inverse[order][1:] == inverse[order][:-1]
    chain_i, chain_j = order[:-1][same], order[1:][same]
    first = np.full(len(values), -1, dtype=np.int64)
    first[inverse[order[::-1]]] = order[::-1]  # the lowest index holding each value
    vi, vj, vd = _distinct_pairs(values, distance)
    ri, rj = first[vi], first[vj]
    ii = np.concatenate([np.minimum(chain_i, chain_j), np.minimum(ri, rj)])
    jj = np.concatenate([np.maximum(chain_i, chain_j), np.maximum(ri, rj)])
    return ii, jj, np.concatenate([np.zeros(len(chain_i), dtype=np.int64), vd])


def _distinct_pairs(
    h: np.ndarray, distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(h)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
    if n < 2:
        return empty
    distance = max(0, min(64, distance))
    m = choose_chunks(n, distance)
    radius = distance // m
    found: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    pending_size = 0

    def flush() -> None:
        # Check distances before de-duplicating: most candidates fail, and unique() on all would dominate.
        nonlocal pending, pending_size
        if not pending:
            return
        codes = np.concatenate(pending)
        pending, pending_size = [], 0
        ii, jj = np.divmod(codes, n)
        keep = np.bitwise_count(h[ii] ^ h[jj]) <= distance
        found.append(codes[keep])

    for offset, width in _chunks(m):
        # int32 halves the memory traffic of the probe loop (chunks are at most 26 bits).
        values = ((h >> np.uint64(offset)) & np.uint64((1 << width) - 1)).astype(
            np.int32
        )
        order = np.argsort(values, kind="stable")
        counts = np.bincount(values, minlength=1 << width).astype(np.int32)
        starts = np.cumsum(counts, dtype=np.int64) - counts
        for mask in _masks(width, radius):
            keys = values ^ mask
            cnt = counts[keys]
            sel = np.flatnonzero(cnt)
            if len(sel) == 0:
                continue
            c = cnt[sel].astype(np.int64)
            total = int(c.sum())
            # Expand each probing hash i into (i, j) for every j in the bucket it hit.
            ii = np.repeat(sel, c)
            first = np.repeat(starts[keys[sel]], c)
            within = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
            jj = order[first + within]
            keep = ii < jj
            pending.append(ii[keep] * n + jj[keep])
            pending_size += int(keep.sum())
            if pending_size >= _BATCH_PAIRS:
                flush()
    flush()
    if not found:
        return empty
    codes = np.unique(np.concatenate(found))
    ii, jj = np.divmod(codes, n)
    return ii, jj, np.bitwise_count(h[ii] ^ h[jj]).astype(np.int64)
