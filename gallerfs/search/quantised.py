"""Int8 codes of the vectors with a proven error bound: the exact top k for a quarter of the memory traffic.

Scoring every vector is bound by memory bandwidth: 1M 512-d float32 vectors are 2 GB read per
query (~170-210 ms here). Each vector ``v`` is also kept as int8 codes ``c`` with a scale
``s = max|v| / 127`` (``v ≈ s·c``), 512 MB at 1M, scanned by onnxruntime's ``MatMulInteger``
(~25 ms at 1M on two cores). The query is quantised to 7 bits, ``q ≈ a·u``: 7-bit values keep
the u8×s8 pair sums inside 16 bits, where AVX2 without VNNI would otherwise saturate.

The approximate score ``s·a·(u·c)`` of a vector is off by at most
``bound = ‖v − s·c‖·‖q‖ + ‖s·c‖·‖q − a·u‖`` (Cauchy–Schwarz; the norms are stored or known).
The best candidates by approximate score are scored exactly (float32, as before), then every
other vector whose approximate score plus its bound reaches the k-th exact score is scored
exactly too: nothing left out can beat the k found, so the result is the float32 brute-force
top k — proven per query, not just likely. The bound is loose (~0.02 at 512-d, where real
errors are ~0.001), which costs only a few hundred to a few thousand extra rows re-ranked.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

log = logging.getLogger(__name__)

SLACK = 1e-4  # float32 rounding in the exact and approximate scores (both far below this at 512-d)
_ZERO = 64  # 7-bit query values in [-63, 63] are sent as u8 in [1, 127]
_FIRST = 256  # candidates scored exactly before the bound is applied (at least twice k)
_BLOCK = 65_536  # vectors per block when quantising and in the numpy fallback
_TILE = 1024  # vectors per transposed tile
# The ONNX graph Y[1, N] = MatMulInteger(A: u8 [1, D], B: s8 [D, N]), opset 13, IR 8, serialised
# (the onnx package that builds it is only a test dependency; tests/test_search_quantised.py rebuilds it).
SCAN_MODEL = bytes.fromhex(
    "0808120867616c6c657266733a630a180a01410a0142120159220d4d61744d756c496e746567657212047363616e5a140a"
    "0141120f0a0d080212090a0208010a031201445a150a014212100a0e0803120a0a031201440a0312014e62140a0159120f"
    "0a0d080612090a0208010a0312014e42040a00100d"
)


@dataclass(frozen=True)
class Codes:
    """The quantised form of ``n`` vectors (arrays in RAM or memory-mapped from the cache file)."""

    codes_t: np.ndarray  # [dim, n] int8, transposed: MatMulInteger streams it as its B input
    scales: np.ndarray  # [n] float32
    colsum: np.ndarray  # [n] int32: sum of each vector's codes (undoes the query's zero point)
    resid: np.ndarray  # [n] float32: ‖v − s·c‖, rounded up
    wnorm: np.ndarray  # [n] float32: ‖s·c‖, rounded up

    @property
    def n(self) -> int:
        return int(self.scales.shape[0])

    @functools.cached_property
    def max_wnorm(self) -> float:
        return float(self.wnorm.max()) if self.n else 0.0


def quantise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(codes [b, dim] int8, scales, colsum, resid, wnorm) of a block of float32 vectors."""
    block = np.asarray(matrix, dtype=np.float32)
    peak = np.abs(block).max(axis=1) if block.size else np.zeros(len(block), np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    scaled = block / scales[:, None]
    codes = np.rint(scaled, out=scaled).astype(np.int8)  # |v| / s <= 127: no clipping needed
    approx = codes.astype(np.float32)
    approx *= scales[:, None]
    wnorm = np.sqrt(np.einsum("ij,ij->i", approx, approx))
    colsum = np.rint(codes.astype(np.float32) @ np.ones(block.shape[1], np.float32)).astype(np.int32)  # exact
    approx -= block
    resid = np.sqrt(np.einsum("ij,ij->i", approx, approx))
    # float32 norms are within ~1e-6 (relative) of the truth at this size: round them up past it.
    up = np.float32(1 + 1e-5)
    return codes, scales, colsum, resid * up + np.float32(1e-7), wnorm * up


def quantise_all(matrix: np.ndarray) -> Codes:
    n, dim = matrix.shape
    out = Codes(np.empty((dim, n), np.int8), np.empty(n, np.float32), np.empty(n, np.int32),
                np.empty(n, np.float32), np.empty(n, np.float32))  # fmt: skip
    quantise_into(matrix, out)
    return out


def quantise_into(matrix: np.ndarray, out: Codes) -> None:
    """Fill ``out`` (arrays sized for ``matrix``, e.g. views of the cache file) block by block."""
    for start in range(0, len(matrix), _BLOCK):
        end = min(len(matrix), start + _BLOCK)
        codes, scales, colsum, resid, wnorm = quantise(matrix[start:end])
        for tile in range(0, end - start, _TILE):  # transposing int8 a tile at a time is 6x faster
            out.codes_t[:, start + tile : start + tile + _TILE] = codes[tile : tile + _TILE].T
        out.scales[start:end], out.colsum[start:end] = scales, colsum
        out.resid[start:end], out.wnorm[start:end] = resid, wnorm


def _split_query(query: np.ndarray) -> tuple[np.ndarray, float, float]:
    """([1, dim] u8 query codes, their step, ‖what they leave over‖)."""
    q = np.asarray(query, dtype=np.float64)
    peak = float(np.abs(q).max()) if q.size else 0.0
    step = peak / 63.0 if peak > 0 else 1.0
    part = np.clip(np.rint(q / step), -63, 63)
    left = float(np.linalg.norm(q - step * part)) * (1 + 1e-6)
    return (part + _ZERO).astype(np.uint8).reshape(1, -1), step, left


class _Kernel:
    """One onnxruntime session computing ``u8 [1, dim] × s8 [dim, n] → int32 [1, n]`` (MLAS's GEMV path; two
    query rows take three times as long), shared by the process."""

    _lock = threading.Lock()
    _session: InferenceSession | None = None
    _failed = False

    @classmethod
    def session(cls) -> InferenceSession | None:
        if cls._session is None and not cls._failed:
            with cls._lock:
                if cls._session is None and not cls._failed:
                    try:
                        cls._session = cls._build()
                    except Exception as exc:  # numpy answers instead, slower but the same codes and bound
                        log.warning("int8 vector scoring unavailable (%s); using numpy", exc)
                        cls._failed = True
        return cls._session

    @staticmethod
    def _build() -> InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-wait between queries
        options.log_severity_level = 3
        return ort.InferenceSession(SCAN_MODEL, options, providers=["CPUExecutionProvider"])


def approximate(codes: Codes, query: np.ndarray, numpy_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(approximate scores [n], the most each can be below its exact score [n]) for one query."""
    part, step, left = _split_query(query)
    session = None if numpy_only else _Kernel.session()
    if session is not None and codes.n:
        products = session.run(None, {"A": part, "B": codes.codes_t})[0][0]
    else:
        products = np.empty(codes.n, dtype=np.int32)
        signed = part[0].astype(np.float32)
        for start in range(0, codes.n, _BLOCK):
            end = min(codes.n, start + _BLOCK)
            products[start:end] = np.rint(signed @ codes.codes_t[:, start:end].astype(np.float32))
    products -= codes.colsum * np.int32(_ZERO)  # exact in int32: |sum| <= 127 * 127 * dim
    approx = products.astype(np.float32)
    approx *= codes.scales
    approx *= np.float32(step)
    norm = float(np.linalg.norm(np.asarray(query, dtype=np.float64)))
    bound = codes.resid * np.float32(norm)
    bound += np.float32(codes.max_wnorm * left + SLACK)
    return approx, bound


def best(
    codes: Codes,
    exact: Callable[[np.ndarray], np.ndarray],
    query: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    keep: Callable[[np.ndarray], np.ndarray] | None = None,
    numpy_only: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(rows, exact scores) of the ``k`` best vectors, best first (equal scores: lower row first).

    ``exact(rows)`` gives the float32 scores of those rows. ``allowed``: a mask of the rows that
    may be returned; ``keep(rows)``: a check of candidate rows (a filter only SQL can judge),
    asked about the best candidates first and again about the few the bound brings in.
    """
    if k <= 0 or codes.n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    approx, bound = approximate(codes, query, numpy_only)
    if allowed is not None:
        approx = np.where(allowed, approx, -np.inf)
    live = int(np.count_nonzero(np.isfinite(approx)))
    if live == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    seen = np.zeros(codes.n, dtype=bool)
    rows: list[np.ndarray] = []
    start, step = 0, max(2 * k, _FIRST)
    while start < live:  # best candidates first, until k pass the filter (all of them without one)
        end = min(live, start + step)
        chunk = _order(approx, end)[start:end]
        seen[chunk] = True
        rows.append(chunk[keep(chunk)] if keep is not None else chunk)
        if sum(len(r) for r in rows) >= k:
            break
        start, step = end, step * 4
    pool = np.concatenate(rows)
    scores = exact(pool)
    if len(pool) >= k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        more = np.flatnonzero((approx + bound >= kth) & ~seen)  # the only rows that could still beat the k-th
        if len(more):
            if keep is not None:
                more = more[keep(more)]
            pool = np.concatenate([pool, more])
            scores = np.concatenate([scores, exact(more)])
    order = np.lexsort((pool, -scores.astype(np.float64)))[:k]
    return pool[order], scores[order]


def _order(values: np.ndarray, m: int) -> np.ndarray:
    """Indexes of the ``m`` largest values, largest first. A partial sort over 1M values costs ~10 ms;
    a threshold guessed from a strided sample first leaves only a few thousand to sort (checked:
    when fewer than ``m`` pass it, the full partial sort runs)."""
    n = len(values)
    if m >= n:
        return np.argsort(-values, kind="stable")
    if n >= 64 * m and n > 65_536:
        stride = 64
        sample = values[::stride]
        rank = min(len(sample), 4 * (m // stride) + 8)
        threshold = np.partition(sample, len(sample) - rank)[len(sample) - rank]
        above = np.flatnonzero(values >= threshold)
        if len(above) >= m:
            top = above[np.argpartition(-values[above], m - 1)[:m]] if len(above) > m else above
            return top[np.argsort(-values[top], kind="stable")]
    top = np.argpartition(-values, m - 1)[:m]
    return top[np.argsort(-values[top], kind="stable")]
