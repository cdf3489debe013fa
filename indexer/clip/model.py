"""The two CLIP towers on onnxruntime.

Sessions are created once per process and model file and cached. The input
name, the integer type of the token ids (int32 in some exports, int64 in
others) and whether the batch axis is dynamic are read from the model itself,
so any ONNX export with an image tower [N,3,S,S] -> [N,D] and a text tower
[N,77] -> [N,D] works. Outputs are L2-normalised, so a dot product is the
cosine similarity.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort

from gallerfs.errors import GallerfsError
from gallerfs.lru import LRU
from gallerfs.indexer.clip.tokenizer import CONTEXT_LENGTH, default_tokenizer

log = logging.getLogger(__name__)

DEVICES = ("cpu", "cuda")
_TEXT_CACHE_SIZE = 256


def providers_for(device: str) -> list[str]:
    """Execution providers for a device name, or a one-line error when it cannot be used."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            raise GallerfsError(
                "--device cuda needs the onnxruntime-gpu package and an NVIDIA GPU; this onnxruntime "
                f"offers only {', '.join(p.removesuffix('ExecutionProvider') for p in available)} "
                "(pip install onnxruntime-gpu, or use --device cpu)"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise GallerfsError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@functools.lru_cache(maxsize=8)
def _session(path: str, mtime_ns: int, device: str, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: the decode threads of the embedding job and the
    # rest of gallerfs share the cores with inference.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(path, sess_options=opts, providers=providers_for(device))
    except GallerfsError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        raise GallerfsError(f"cannot load the model file {path}: {str(exc).splitlines()[0]}") from None
    if device == "cuda" and "CUDAExecutionProvider" not in session.get_providers():
        raise GallerfsError(
            "--device cuda: onnxruntime could not start CUDA (check the NVIDIA driver and CUDA/cuDNN "
            "libraries onnxruntime-gpu needs), or use --device cpu"
        )
    return session


@dataclass(frozen=True)
class _Port:
    """How to feed one tower: its input name and type, output name, batch limit."""

    input: str
    dtype: type
    output: str
    max_batch: int | None  # None: dynamic batch axis


def _port(session: ort.InferenceSession) -> _Port:
    inp = session.get_inputs()[0]
    outputs = session.get_outputs()
    out = next((o for o in outputs if len(o.shape) == 2), outputs[0])
    dtype = {"tensor(int32)": np.int32, "tensor(int64)": np.int64, "tensor(float16)": np.float16}.get(inp.type, np.float32)
    batch = inp.shape[0] if inp.shape else None
    return _Port(inp.name, dtype, out.name, batch if isinstance(batch, int) and batch > 0 else None)


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class Tower:
    """One ONNX model, batched, thread-safe (onnxruntime's run is)."""

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        self.path = Path(path)
        try:
            mtime = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            raise GallerfsError(f"model file {self.path} is missing (run 'gallerfs models verify')") from None
        self.session = _session(str(self.path), mtime, device, threads or default_threads())
        self.port = _port(self.session)

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=self.port.dtype)
        step = self.port.max_batch or len(batch) or 1
        parts = [
            self.session.run([self.port.output], {self.port.input: batch[i : i + step]})[0]
            for i in range(0, len(batch), step)
        ]
        out = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        if out.ndim != 2:
            raise GallerfsError(f"{self.path.name}: expected [N, D] embeddings, got shape {list(out.shape)}")
        return _normalise(out)


class ImageEncoder:
    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        self.tower = Tower(path, device, threads)

    def encode(self, tensors: np.ndarray) -> np.ndarray:
        """[N, 3, S, S] preprocessed images -> [N, D] unit vectors."""
        return self.tower.run(tensors)


class TextEncoder:
    """Text tower plus tokenizer, with a small cache of recent queries."""

    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None) -> None:
        self.tower = Tower(path, device, threads)
        self.tokenizer = default_tokenizer()
        self._cache: LRU[str, np.ndarray] = LRU(_TEXT_CACHE_SIZE)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> [N, D] unit vectors."""
        return self.tower.run(self.tokenizer.tokenize(texts, CONTEXT_LENGTH))

    def encode_one(self, text: str) -> np.ndarray:
        def compute() -> np.ndarray:
            vec = self.encode([text])[0]
            vec.setflags(write=False)
            return vec

        return self._cache.get_or_compute(text, compute)


@functools.lru_cache(maxsize=4)
def text_encoder(path: str, device: str = "cpu") -> TextEncoder:
    """The process-wide text encoder for a model file (loaded once)."""
    return TextEncoder(Path(path), device)
