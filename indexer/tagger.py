"""Tags for one photo: EfficientNet-Lite0 (ImageNet-1k) on onnxruntime, names by ``models/tag_labels.py``.

Preprocessing is the EfficientNet-Lite evaluation transform: upright RGB, bicubic resize of the short
side to 256, centre crop 224 (crop fraction 0.875), then ``(x - 127) / 128`` per channel. The model
returns class probabilities; classes sharing a tag add up, and each parent word ("cat", "dog", "car")
scores the sum of its classes. A photo keeps its ``TOP_K`` best class tags and its parent words, each
only when its score reaches ``MIN_SCORE``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gallerfs.indexer.clip.preprocess import load_image, resize_and_crop
from gallerfs.models.packaged import Installed

IMAGE_SIZE = 224
RESIZE = 256
TOP_K = 5  # class tags kept per photo (parent words come on top)
MIN_SCORE = 0.10  # a tag below this probability is not kept


@dataclass(frozen=True)
class Labels:
    tags: tuple[str, ...]  # per class
    class_of_tag: dict[str, np.ndarray]  # tag -> the classes carrying it
    parents: dict[str, np.ndarray]  # parent word -> its classes

    @classmethod
    def load(cls, path: Path) -> Labels:
        entries = json.loads(path.read_text(encoding="utf-8"))
        tags = tuple(str(e["tag"]) for e in entries)
        by_tag: dict[str, list[int]] = {}
        by_parent: dict[str, list[int]] = {}
        for i, e in enumerate(entries):
            by_tag.setdefault(tags[i], []).append(i)
            for p in e["parents"]:
                by_parent.setdefault(str(p), []).append(i)
        return cls(tags, {t: np.array(v) for t, v in by_tag.items()}, {p: np.array(v) for p, v in by_parent.items()})


def to_tensor(img: Image.Image) -> np.ndarray:
    """[3, 224, 224] float32 as EfficientNet-Lite expects."""
    square = resize_and_crop(img.convert("RGB"), RESIZE)
    margin = (RESIZE - IMAGE_SIZE) // 2
    square = square.crop((margin, margin, margin + IMAGE_SIZE, margin + IMAGE_SIZE))
    arr = (np.asarray(square, dtype=np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess_file(path: str | os.PathLike[str] | bytes, max_pixels: int = 250_000_000) -> np.ndarray:
    """Decode and preprocess one file; raises ``ImageDecodeError`` with a one-line reason."""
    return to_tensor(load_image(path, RESIZE, max_pixels))


def pick(probs: np.ndarray, labels: Labels, top_k: int = TOP_K, min_score: float = MIN_SCORE) -> dict[str, float]:
    """The kept tags of one photo with their scores, best first."""
    per_tag = {t: float(probs[idx].sum()) for t, idx in labels.class_of_tag.items()}
    best = sorted(per_tag.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]
    found = {t: s for t, s in best if s >= min_score}
    for parent, idx in labels.parents.items():
        score = min(1.0, float(probs[idx].sum()))
        if score >= min_score:
            found[parent] = max(found.get(parent, 0.0), score)
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


class Tagger:
    """The installed ``tags`` model, ready to tag batches of preprocessed photos."""

    def __init__(self, model: Installed, device: str = "cpu", threads: int | None = None) -> None:
        from gallerfs.indexer.clip.model import _session, default_threads  # onnxruntime loads only now

        path = model.path("model.onnx")
        self.identity = model.identity
        self.labels = Labels.load(model.path("labels.json"))
        self._session = _session(str(path), path.stat().st_mtime_ns, device, threads or default_threads())
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        out = self._session.run(None, {self._input: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)

    def tag(self, batch: np.ndarray) -> list[dict[str, float]]:
        return [pick(p, self.labels) for p in self.probabilities(batch)]
