"""Does a pair of perceptual-hash neighbours show the same picture? Checked on pixels, not on hashes.

A 64-bit perceptual hash agrees for far more than copies of one photo: every
solid-colour image, every picture of one layout in another colour, every shot
of a burst. Before two files may form a near-duplicate set (whose members can
be trashed), their pictures are compared here, from the grid thumbnail the
indexer cached (so offline files are compared too; the original is read only
where no thumbnail exists):

- tiny images (shorter side under ``TINY_PX`` pixels: stub thumbnails, 1x1
  placeholders) are never near duplicates of anything (exact copies are
  still found by content hash);
- flat images (no structure) pair only with flat images of the same pixel
  size and the same colour (pixel-identical copies that differ in metadata);
- low-detail images (few edges: a shape on a plain background) pair only when
  their pixels agree without any re-alignment;
- other images pair when their colour agrees and, after the best small crop
  alignment (up to ``MAX_CROP`` of each side), every block of the greyscale
  picture agrees: a resized, re-encoded, brightened, rotated-with-tag or
  slightly cropped copy passes; a burst shot, whose subject moved, or a
  panned shot of the same scene, leaves a block that does not.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

RULE = 1  # version of the rules below; stored with remembered verdicts, bump it when they change
TINY_PX = 64  # shorter side below this: never a near duplicate
FLAT_STDDEV = 2.0  # grey levels; the indexer gives such images no perceptual hash
LOW_DETAIL = 0.165  # share of edge pixels below which an image has too little detail for hash pairing
SIDE = 32  # the compared greyscale picture is SIDE x SIDE
BLOCKS = 4  # ... in BLOCKS x BLOCKS blocks, each of which must agree
MAX_BLOCK_RESIDUAL = 0.12  # mean squared difference of standardised pixels in the worst block
MAX_ALIGNED_RESIDUAL = 0.08  # the same after the crop search (the best of ~100 crops: a stricter bar)
LOW_DETAIL_RESIDUAL = 0.03  # the same, for low-detail images (no alignment allowed)
MAX_CHROMA = 0.03  # largest difference of mean chromaticity (r, g, b shares of brightness)
FLAT_COLOUR = 3.0  # grey levels per channel between two flat images
MAX_CROP = 0.10  # the alignment search crops up to this share of either picture's width and height
_SCALES = (0.975, 0.95, 0.925, 1.0 - MAX_CROP)
_OFFSETS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Look:
    """What the pair check needs of one picture."""

    width: int  # of the original (from metadata), or of the decoded picture
    height: int
    sized: bool  # width and height are the original's (not a thumbnail's of unknown scale)
    picture: np.ndarray  # greyscale, upright, at most 2 * SIDE pixels on its longer side (for the crop search)
    standard: np.ndarray  # SIDE x SIDE, zero mean, unit deviation (zeros when flat)
    chroma: np.ndarray  # mean (r, g, b) / (r + g + b)
    colour: np.ndarray  # mean (r, g, b)
    flat: bool
    detail: float  # share of pixels on an edge, 0..1

    @property
    def tiny(self) -> bool:
        return min(self.width, self.height) < TINY_PX

    @property
    def aspect(self) -> float:
        return self.width / max(1, self.height)


def look_of(
    image: Image.Image, width: int | None = None, height: int | None = None, *, sized: bool = True
) -> Look:
    """The Look of an upright picture: the decoded original, or a thumbnail (sized=False unless width
    and height are given)."""
    from PIL import Image  # only where pictures are compared: listing exact copies never needs Pillow

    sized = sized or bool(width and height)
    width, height = width or image.width, height or image.height
    rgb = image.convert("RGB")
    if max(rgb.size) > 256:
        rgb = rgb.copy()
        rgb.thumbnail((256, 256), Image.Resampling.BILINEAR)
    grey = rgb.convert("L")
    small = np.asarray(grey.resize((SIDE, SIDE), Image.Resampling.BILINEAR), dtype=np.float64)
    search = grey.copy()
    search.thumbnail((2 * SIDE, 2 * SIDE), Image.Resampling.BILINEAR)
    colours = np.asarray(rgb.resize((SIDE, SIDE), Image.Resampling.BOX), dtype=np.float64).reshape(-1, 3)
    flat = bool(small.std() < FLAT_STDDEV)
    lap = np.abs(4 * small[1:-1, 1:-1] - small[:-2, 1:-1] - small[2:, 1:-1] - small[1:-1, :-2] - small[1:-1, 2:])
    return Look(
        width=int(width), height=int(height), sized=sized, picture=np.asarray(search, dtype=np.float64),
        standard=np.zeros_like(small) if flat else _standardise(small),
        chroma=(colours / (colours.sum(axis=1, keepdims=True) + 30.0)).mean(axis=0),
        colour=colours.mean(axis=0), flat=flat, detail=float((lap > 12).mean()),
    )  # fmt: skip


def load_look(
    thumbnail: Path | None, original: bytes | None, width: int | None, height: int | None
) -> Look | None:
    """From the cached thumbnail, else the original (None when neither can be read)."""
    from PIL import Image, ImageOps

    for where in (thumbnail, original):
        if where is None:
            continue
        try:
            with Image.open(where) as im:
                if where is thumbnail:
                    return look_of(im, width, height, sized=False)
                full = im.size[::-1] if im.getexif().get(0x0112, 1) in (5, 6, 7, 8) else im.size
                im.draft("RGB", (256, 256))  # JPEG: decode at a reduced scale
                return look_of(ImageOps.exif_transpose(im), width or full[0], height or full[1])
        except FileNotFoundError:
            continue
        except Exception as exc:  # noqa: BLE001  (any decoder failure: this file is just not paired)
            log.info("cannot read %s for the near-duplicate check: %s", os.fsdecode(str(where)), exc)
    return None


def same_picture(a: Look, b: Look) -> bool:
    """Whether two pictures are copies of one photo (resized, re-encoded, slightly cropped)."""
    if a.tiny or b.tiny:
        return False
    if a.flat or b.flat:
        return (
            a.flat and b.flat and a.sized and b.sized and (a.width, a.height) == (b.width, b.height)
            and float(np.abs(a.colour - b.colour).max()) <= FLAT_COLOUR
        )  # fmt: skip
    if float(np.abs(a.chroma - b.chroma).max()) > MAX_CHROMA:
        return False
    spread = abs(math.log(a.aspect / b.aspect))
    if min(a.detail, b.detail) < LOW_DETAIL:
        return spread <= 0.02 and worst_block(a.standard, b.standard) <= LOW_DETAIL_RESIDUAL
    if spread > -math.log(1.0 - MAX_CROP) + 0.02:
        return False
    if worst_block(a.standard, b.standard) <= MAX_BLOCK_RESIDUAL:
        return True
    return aligned_residual(a, b, MAX_ALIGNED_RESIDUAL) <= MAX_ALIGNED_RESIDUAL


def worst_block(x: np.ndarray, y: np.ndarray) -> float:
    """The largest per-block mean squared difference of two standardised pictures."""
    k = x.shape[0] // BLOCKS
    squared = (x - y) ** 2
    return float(squared.reshape(BLOCKS, k, BLOCKS, k).mean(axis=(1, 3)).max())


def aligned_residual(a: Look, b: Look, good_enough: float = 0.0) -> float:
    """worst_block after the best crop of either picture: scale first, then offset, then both finer.

    Stops as soon as a stage finds a crop scoring good_enough or better (the pair
    check only needs to know that one does). Crops are sampled from the small
    search pictures, each stage at once.
    """
    best = worst_block(a.standard, b.standard)
    for cropped, other in ((a, b), (b, a)):
        if best <= good_enough:
            break
        picture = cropped.picture
        target = _standardise(_sample(other.picture, [(1.0, 0.5, 0.5)])[0])
        score, (scale, _, _) = _search(picture, target, [(s, 0.5, 0.5) for s in (1.0, *_SCALES)])
        best = min(best, score)
        if best <= good_enough:
            break
        near = [s for s in (*_SCALES, 1.0) if abs(s - scale) <= 0.026]
        score, (s0, x0, y0) = _search(picture, target, [(s, fx, fy) for s in near for fx in _OFFSETS for fy in _OFFSETS])
        best = min(best, score)
        if best <= good_enough:
            break
        score, _ = _search(picture, target,
                           [(min(1.0, s0 + ds), _unit(x0 + dx), _unit(y0 + dy))
                            for ds in (-0.0125, -0.00625, 0.0, 0.00625, 0.0125)
                            for dx in (-0.125, 0.0, 0.125) for dy in (-0.125, 0.0, 0.125)])  # fmt: skip
        best = min(best, score)
    return best


def _unit(x: float) -> float:
    return min(1.0, max(0.0, x))


def _search(
    picture: np.ndarray, target: np.ndarray, crops: list[tuple[float, float, float]]
) -> tuple[float, tuple[float, float, float]]:
    """The best (score, crop) among crops (scale, x and y position 0..1 of the window)."""
    samples = _sample(picture, crops)
    flat = samples.reshape(len(crops), -1)
    standard = (flat - flat.mean(axis=1, keepdims=True)) / (flat.std(axis=1, keepdims=True) + 1e-6)
    k = SIDE // BLOCKS
    squared = (standard.reshape(len(crops), SIDE, SIDE) - target) ** 2
    scores = squared.reshape(len(crops), BLOCKS, k, BLOCKS, k).mean(axis=(2, 4)).max(axis=(1, 2))
    i = int(np.argmin(scores))
    return float(scores[i]), crops[i]


def _sample(picture: np.ndarray, crops: list[tuple[float, float, float]]) -> np.ndarray:
    """SIDE x SIDE bilinear samples of each crop window of picture: shape (len(crops), SIDE, SIDE)."""
    h, w = picture.shape
    box = np.asarray(crops, dtype=np.float64)
    scale, fx, fy = box[:, 0:1], box[:, 1:2], box[:, 2:3]
    t = (np.arange(SIDE) + 0.5) / SIDE
    xs = np.clip((w - w * scale) * fx + t * w * scale - 0.5, 0, w - 1)
    ys = np.clip((h - h * scale) * fy + t * h * scale - 0.5, 0, h - 1)
    x0, y0 = np.floor(xs).astype(np.intp), np.floor(ys).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    wx, wy = (xs - x0)[:, None, :], (ys - y0)[:, :, None]
    rows0, rows1 = picture[y0], picture[y1]  # (n, SIDE, w)
    rows = rows0 * (1 - wy) + rows1 * wy
    left = np.take_along_axis(rows, np.broadcast_to(x0[:, None, :], (len(crops), SIDE, SIDE)), axis=2)
    right = np.take_along_axis(rows, np.broadcast_to(x1[:, None, :], (len(crops), SIDE, SIDE)), axis=2)
    return left * (1 - wx) + right * wx


def _standardise(pixels: np.ndarray) -> np.ndarray:
    return (pixels - pixels.mean()) / (pixels.std() + 1e-6)


class LookCache:
    """Looks loaded on demand, once per file id, for one grouping pass; verdicts kept across passes.

    The mount regroups after every change to the library: a pair's verdict is
    remembered (bounded, process-wide) under both files' (size, mtime), so only
    pairs that are new or changed are compared again; writers also store
    verdicts in the library (``duplicate_verdicts``) for the next process.
    """

    def __init__(self, load: Callable[[int], Look | None]) -> None:
        self._load = load
        self._looks: dict[int, Look | None] = {}

    def get(self, file_id: int) -> Look | None:
        if file_id not in self._looks:
            self._looks[file_id] = self._load(file_id)
        return self._looks[file_id]

    def same(self, a: int, b: int, stamp: Hashable = None) -> bool | None:
        """Whether files a and b show the same picture (None: one cannot be read now).

        stamp identifies both files' versions: a verdict is remembered under it.
        """
        key = (a, b, stamp)
        if stamp is not None:
            with _VERDICTS_LOCK:
                known = _VERDICTS.get(key)
            if known is not None:
                return known
        la, lb = self.get(a), self.get(b)
        if la is None or lb is None:
            return None  # not remembered: tried again next time
        verdict = same_picture(la, lb)
        if stamp is not None:
            with _VERDICTS_LOCK:
                _VERDICTS[key] = verdict
                while len(_VERDICTS) > MAX_VERDICTS:
                    _VERDICTS.popitem(last=False)
        return verdict


MAX_VERDICTS = 200_000
_VERDICTS: OrderedDict[tuple[int, int, Hashable], bool] = OrderedDict()
_VERDICTS_LOCK = threading.Lock()
