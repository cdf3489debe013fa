"""A small CLIP-shaped test model, built at test time with the ``onnx`` helpers.

Same interface as the real export: image tower float [N,3,224,224] -> [N,D],
text tower int32 token ids [N,77] -> [N,D]. Its embeddings mean something
checkable:

- image: closeness of the mean colour to each of a few named colours (one
  dimension per colour), plus the mean colour of each image quadrant (so two
  photos with the same dominant colour but a different layout differ), plus a
  constant;
- text: the sum over tokens of a lookup table where each colour word's token
  sets its colour's dimension and the start token sets the constant.

So "red" is closest to red photos, and a re-encoded copy is closest to its
original. ``write_model_dir`` saves the files the way the hub serves them and a
manifest describing them, so tests install it through the real code path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from gallerfs.indexer.clip.preprocess import MEAN, STD
from gallerfs.indexer.clip.tokenizer import Tokenizer

COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.1, 0.1),
    "green": (0.1, 0.7, 0.15),
    "blue": (0.1, 0.2, 0.85),
    "yellow": (0.95, 0.9, 0.1),
    "white": (0.95, 0.95, 0.95),
    "black": (0.05, 0.05, 0.05),
    "purple": (0.5, 0.1, 0.6),
    "orange": (0.95, 0.55, 0.1),
}
DIM = 32
VOCAB = 49408
IMAGE_FILE = "test-image-tower.onnx"
TEXT_FILE = "test-text-tower.onnx"
_K = len(COLOURS)
_QUAD = 12
_BIAS_DIM = DIM - 1
_TAU = 0.05


def _const(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def image_model() -> onnx.ModelProto:
    protos = np.array(list(COLOURS.values()), dtype=np.float32).reshape(1, _K, 3)
    proj = np.zeros((_K + _QUAD, DIM), dtype=np.float32)
    proj[:_K, :_K] = np.eye(_K)
    proj[_K:, _K : _K + _QUAD] = 0.3 * np.eye(_QUAD)
    bias = np.zeros(DIM, dtype=np.float32)
    bias[_BIAS_DIM] = 0.05
    inits = [
        _const("std", STD.reshape(1, 3)),
        _const("mean", MEAN.reshape(1, 3)),
        _const("protos", protos),
        _const("shape_n13", np.array([-1, 1, 3], dtype=np.int64)),
        _const("axis2", np.array([2], dtype=np.int64)),
        _const("neg_inv_tau", np.array(-1.0 / _TAU, dtype=np.float32)),
        _const("shape_quad", np.array([-1, _QUAD], dtype=np.int64)),
        _const("quad_std", np.repeat(STD, 4).reshape(1, _QUAD)),  # flattened [3,2,2]: channel-major
        _const("proj", proj),
        _const("bias", bias),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["mean_norm"]),
        helper.make_node("Mul", ["mean_norm", "std"], ["m1"]),
        helper.make_node("Add", ["m1", "mean"], ["rgb"]),
        helper.make_node("Reshape", ["rgb", "shape_n13"], ["rgb3"]),
        helper.make_node("Sub", ["rgb3", "protos"], ["diff"]),
        helper.make_node("Mul", ["diff", "diff"], ["sq"]),
        helper.make_node("ReduceSum", ["sq", "axis2"], ["d2"], keepdims=0),
        helper.make_node("Mul", ["d2", "neg_inv_tau"], ["logit"]),
        helper.make_node("Exp", ["logit"], ["colour"]),
        helper.make_node("AveragePool", ["input"], ["quads"], kernel_shape=[112, 112], strides=[112, 112]),
        helper.make_node("Reshape", ["quads", "shape_quad"], ["quad_flat"]),
        helper.make_node("Mul", ["quad_flat", "quad_std"], ["quad"]),
        helper.make_node("Concat", ["colour", "quad"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "proj"], ["projected"]),
        helper.make_node("Add", ["projected", "bias"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes,
        "test_clip_image",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", DIM])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def text_model(tokenizer: Tokenizer | None = None) -> onnx.ModelProto:
    tok = tokenizer or Tokenizer()
    table = np.zeros((VOCAB, DIM), dtype=np.float32)
    table[tok.sot_id, _BIAS_DIM] = 0.05
    for k, word in enumerate(COLOURS):
        (token_id,) = tok.encode(word)
        table[token_id, k] = 1.0
    inits = [_const("table", table), _const("axis1", np.array([1], dtype=np.int64))]
    nodes = [
        helper.make_node("Gather", ["table", "input"], ["rows"], axis=0),
        helper.make_node("ReduceSum", ["rows", "axis1"], ["output"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "test_clip_text",
        [helper.make_tensor_value_info("input", TensorProto.INT32, ["batch", 77])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", DIM])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_model_dir(folder: Path, name: str = "test-clip", base_url: str = "") -> Path:
    """Write both towers into ``folder`` and a manifest naming them; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(image_model(), folder / IMAGE_FILE)
    onnx.save(text_model(), folder / TEXT_FILE)
    files = {}
    for role, fname in (("image", IMAGE_FILE), ("text", TEXT_FILE)):
        path = folder / fname
        files[role] = {
            "name": fname,
            "url": f"{base_url.rstrip('/')}/{fname}" if base_url else f"http://127.0.0.1:9/{fname}",
            "sha256": sha256(path),
            "size": path.stat().st_size,
        }
    manifest = {
        "format": 1,
        "default": name,
        "models": {
            name: {
                "description": "colour-tracking test model built by tests/clipmodel.py",
                "dim": DIM,
                "image_size": 224,
                "context_length": 77,
                "licence": "test data",
                "files": files,
            }
        },
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return path


def colour_photo(path: Path, colour: str, seed: int, size: tuple[int, int] = (640, 480), quality: int = 92) -> Path:
    """A photo dominated by one named colour, with a few blocks of others placed by ``seed``.

    The blocks make each photo's layout its own, so a re-encoded copy is closer
    to its original than to another photo of the same colour.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    base = tuple(int(255 * c) for c in COLOURS[colour])
    img = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(img)
    others = [c for c in COLOURS if c != colour]
    w, h = size
    for _ in range(3):
        other = tuple(int(255 * c) for c in COLOURS[others[int(rng.integers(len(others)))]])
        x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4))
        draw.rectangle((x0, y0, x0 + w // 6, y0 + h // 6), fill=other)
    noise = rng.integers(-12, 13, (h, w, 3))
    arr = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    out = Image.fromarray(arr)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        out.save(path, quality=quality)
    else:
        out.save(path, compress_level=1)
    return path


def reencode(src: Path, dest: Path, quality: int = 60, scale: float = 0.8) -> Path:
    """A re-encoded, resized copy of a photo (what a messenger app makes of it)."""
    from PIL import Image

    with Image.open(src) as im:
        im.resize((int(im.width * scale), int(im.height * scale))).save(dest, quality=quality)
    return dest
