"""Image preprocessing as CLIP does it, JPEG draft decoding, orientation, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gallerfs.indexer.clip.preprocess import MEAN, STD, ImageDecodeError, load_image, preprocess_file, resize_and_crop, to_tensor
from gallerfs.indexer.media import media_kind


def _expected(rgb: tuple[int, int, int]) -> np.ndarray:
    return (np.array(rgb, dtype=np.float32) / 255.0 - MEAN) / STD


def test_solid_colour_gives_normalised_constant() -> None:
    x = to_tensor(Image.new("RGB", (640, 480), (200, 30, 90)))
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    for c in range(3):
        assert np.allclose(x[c], _expected((200, 30, 90))[c], atol=1e-5)


def test_short_side_resized_then_centre_cropped() -> None:
    img = Image.new("RGB", (600, 300), (0, 0, 255))
    img.paste((255, 0, 0), (150, 0, 450, 300))  # the middle square is red
    assert resize_and_crop(img).size == (224, 224)
    x = to_tensor(img)
    inner = x[:, :, 3:-3]  # bicubic blends a couple of pixels at the crop's edge
    assert np.allclose(inner[0], _expected((255, 0, 0))[0], atol=0.02)
    assert np.allclose(inner[2], _expected((255, 0, 0))[2], atol=0.02)
    tall = Image.new("RGB", (300, 900), (0, 255, 0))
    assert resize_and_crop(tall).size == (224, 224)


def test_matches_torchvision_arithmetic_for_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    arr = rng.integers(0, 256, (333, 517, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "noise.png")
    x = preprocess_file(tmp_path / "noise.png")
    # torchvision Resize(224) on PIL: short side 224, long side int(224 * 517 / 333); CenterCrop rounds.
    ref = Image.fromarray(arr).resize((int(224 * 517 / 333), 224), Image.Resampling.BICUBIC)
    left = int(round((ref.size[0] - 224) / 2.0))
    ref_arr = (np.asarray(ref.crop((left, 0, left + 224, 224)), np.float32) / 255.0 - MEAN) / STD
    assert np.allclose(x, ref_arr.transpose(2, 0, 1), atol=1e-5)


def test_jpeg_is_decoded_with_draft(tmp_path: Path) -> None:
    Image.new("RGB", (4000, 3000), (10, 120, 200)).save(tmp_path / "big.jpg", quality=90)
    img = load_image(tmp_path / "big.jpg")
    assert min(img.size) >= 224
    assert img.size[0] <= 1000  # DCT scaling to 1/8 (500x375), not a full 12-MP decode
    x = preprocess_file(tmp_path / "big.jpg")
    assert np.allclose(x[:, 100, 100], _expected((10, 120, 200)), atol=0.05)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (800, 400), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 400, 400))  # left half black
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95)
    shown = load_image(tmp_path / "rot.jpg")
    assert shown.size[0] < shown.size[1]  # portrait once upright
    arr = np.asarray(shown)
    assert arr[5, shown.size[0] // 2].mean() < 40  # the black half is now on top
    assert arr[-5, shown.size[0] // 2].mean() > 215


def test_bad_files_raise_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"not an image at all\n" * 10)
    Image.new("RGB", (500, 400), (1, 2, 3)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    for name in ("empty.jpg", "text.jpg", "cut.jpg"):
        with pytest.raises(ImageDecodeError) as info:
            preprocess_file(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(ImageDecodeError, match="pixel limit"):
        preprocess_file(tmp_path / "ok.jpg", max_pixels=1000)


def test_corpus_images_decode_or_fail_cleanly(corpus: Path) -> None:
    decoded = failed = 0
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or media_kind(path.name) != "image":
            continue
        try:
            x = preprocess_file(path)
        except ImageDecodeError:
            failed += 1
            continue
        assert x.shape == (3, 224, 224) and np.isfinite(x).all()
        decoded += 1
    assert decoded > 100
    assert failed >= 1  # the corpus has empty and broken files
