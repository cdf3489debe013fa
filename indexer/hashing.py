"""Content hashes of files and perceptual hashes of images.

- `file_hashes`: sha256 of the whole file and of its first and last 64 KiB
  (defined in `indexer.content_hash`, which needs neither numpy nor Pillow).
- `phash` (DCT) and `dhash` (difference) are 64-bit perceptual hashes returned
  as SIGNED int64 so they fit an SQLite INTEGER; `hamming` compares them.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

from gallerfs.indexer.content_hash import CHUNK, PARTIAL, file_hashes

__all__ = ["CHUNK", "PARTIAL", "file_hashes", "dhash", "hamming", "perceptual_hashes", "phash", "to_signed64"]

log = logging.getLogger(__name__)

_DCT_N = 32


def to_signed64(value: int) -> int:
    """Map an unsigned 64-bit integer onto the signed int64 range (SQLite INTEGER)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits.ravel():
        value = (value << 1) | int(bit)
    return to_signed64(value)


def _gray(im: Image.Image, size: tuple[int, int]) -> np.ndarray:
    small = im.convert("L") if im.mode != "L" else im
    small = small.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(small, dtype=np.float64)


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0, :] = np.sqrt(1.0 / n)
    return m


_DCT = _dct_matrix(_DCT_N)


FLAT_STDDEV = 2.0  # grey levels: below this an image has no structure to hash


def perceptual_hashes(im: Image.Image) -> tuple[int | None, int | None]:
    """(phash, dhash) of an image, from one greyscale conversion.

    Both are None for flat images (solid-colour placeholders): their hashes
    would be equal whatever their colour or size, so they must not make such
    images look "similar".
    """
    grey = im.convert("L") if im.mode != "L" else im
    if max(grey.size) > 4 * _DCT_N:  # cheap pre-shrink; the hashes only need 32x32
        grey = grey.copy()
        grey.thumbnail((4 * _DCT_N, 4 * _DCT_N), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pixels = _gray(grey, (_DCT_N, _DCT_N))
    if pixels.std() < FLAT_STDDEV:
        return None, None
    small = _gray(grey, (9, 8))
    return _phash_of(pixels), _bits_to_int(small[:, 1:] > small[:, :-1])


def _phash_of(pixels: np.ndarray) -> int:
    dct = _DCT @ pixels @ _DCT.T
    low = dct[:8, :8].ravel()
    median = np.median(low[1:])  # the DC term would dominate the median
    return _bits_to_int(low > median)


def phash(im: Image.Image) -> int | None:
    """64-bit DCT hash: 8x8 lowest frequencies of a 32x32 grey image against their median
    (None for flat images)."""
    return perceptual_hashes(im)[0]


def dhash(im: Image.Image) -> int | None:
    """64-bit difference hash: is each pixel brighter than its right neighbour, 9x8 grey
    (None for flat images)."""
    return perceptual_hashes(im)[1]


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes (signed or unsigned)."""
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()
