"""The onnxruntime wrapper, run on the small test model built at test time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from PIL import Image

from gallerfs.errors import GallerfsError
from gallerfs.indexer.clip.model import ImageEncoder, TextEncoder, Tower, providers_for
from gallerfs.indexer.clip.preprocess import to_tensor
from tests import clipmodel


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clipmodel")
    clipmodel.write_model_dir(folder)
    return folder


def _solid(name: str) -> np.ndarray:
    rgb = tuple(int(255 * c) for c in clipmodel.COLOURS[name])
    return to_tensor(Image.new("RGB", (320, 240), rgb))


def test_colour_words_find_their_colour(model_dir: Path) -> None:
    images = ImageEncoder(model_dir / clipmodel.IMAGE_FILE)
    texts = TextEncoder(model_dir / clipmodel.TEXT_FILE)
    names = list(clipmodel.COLOURS)
    x = images.encode(np.stack([_solid(n) for n in names]))
    t = texts.encode([f"a {n} photo" for n in names])
    assert x.shape == (len(names), clipmodel.DIM) and t.shape == x.shape
    assert np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
    assert np.allclose(np.linalg.norm(t, axis=1), 1, atol=1e-5)
    assert ((t @ x.T).argmax(axis=1) == np.arange(len(names))).all()


def test_text_tower_with_int32_input_gets_int32(model_dir: Path) -> None:
    tower = Tower(model_dir / clipmodel.TEXT_FILE)
    assert tower.port.dtype == np.int32 and tower.port.max_batch is None
    ids = np.zeros((2, 77), dtype=np.int64)
    ids[:, 0] = 49406
    assert tower.run(ids).shape == (2, clipmodel.DIM)


def test_sessions_are_cached(model_dir: Path) -> None:
    a = ImageEncoder(model_dir / clipmodel.IMAGE_FILE)
    b = ImageEncoder(model_dir / clipmodel.IMAGE_FILE)
    assert a.tower.session is b.tower.session


def test_text_query_cache_returns_same_vector(model_dir: Path) -> None:
    texts = TextEncoder(model_dir / clipmodel.TEXT_FILE)
    first = texts.encode_one("red")
    assert texts.encode_one("red") is first
    assert np.allclose(first, texts.encode(["red"])[0])


def test_fixed_batch_export_is_fed_one_at_a_time(tmp_path: Path) -> None:
    model = clipmodel.image_model()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].ClearField("dim_param")
    dims[0].dim_value = 1
    onnx.save(model, tmp_path / "fixed.onnx")
    encoder = ImageEncoder(tmp_path / "fixed.onnx")
    assert encoder.tower.port.max_batch == 1
    batch = np.stack([_solid("red"), _solid("blue"), _solid("green")])
    together = encoder.encode(batch)
    alone = np.concatenate([encoder.encode(batch[i : i + 1]) for i in range(3)])
    assert np.allclose(together, alone, atol=1e-6)


def test_cuda_requested_without_gpu_build_is_a_clear_error() -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert providers_for("cuda")[0] == "CUDAExecutionProvider"
        return
    with pytest.raises(GallerfsError, match="onnxruntime-gpu"):
        providers_for("cuda")
    assert providers_for("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(GallerfsError, match="unknown device"):
        providers_for("tpu")


def test_missing_and_corrupt_model_files(tmp_path: Path) -> None:
    with pytest.raises(GallerfsError, match="missing"):
        ImageEncoder(tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00junk" * 100)
    with pytest.raises(GallerfsError, match="cannot load the model"):
        ImageEncoder(tmp_path / "junk.onnx")
