"""Thumbnails: layout, orientation applied exactly once, sizes, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gallerfs.indexer.process_file import process_file
from gallerfs.indexer.thumbnails import fit, thumbnail_path, write_jpeg_atomic

CORPORA = (Path(__file__).resolve().parent.parent.parent / "shared" / "corpora").resolve()
GROUPS = {g["group"]: g for g in json.loads((CORPORA / "neardup" / "groups.json").read_text())["real"]}
GRID, PREVIEW = 128, 320


def test_thumbnail_path_layout(tmp_path: Path) -> None:
    assert thumbnail_path(tmp_path, 12345, "grid") == tmp_path / "grid" / "012" / "12345.jpg"
    assert thumbnail_path(str(tmp_path), 7, "preview") == tmp_path / "preview" / "000" / "7.jpg"
    assert thumbnail_path(tmp_path, 1234567, "grid") == tmp_path / "grid" / "1234" / "1234567.jpg"


def _thumbs(path: Path, root: Path, file_id: int) -> dict[str, Image.Image]:
    result = process_file(os.fsencode(path), "image", file_id, str(root), GRID, PREVIEW, 85, 50_000_000)
    assert result.thumbnails == ("grid", "preview"), result.errors
    out = {}
    for name in result.thumbnails:
        with Image.open(thumbnail_path(root, file_id, name)) as im:
            out[name] = im.convert("RGB")
            assert im.format == "JPEG"
    return out


def _diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference, ignoring an overall brightness shift
    (orientation_1 of the exif-samples sets was exported brighter than 2..8)."""
    assert a.size == b.size
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs((x - x.mean()) - (y - y.mean())).mean())


@pytest.mark.parametrize("group,landscape", [
    ("r03_landscape_orientation", True),
    ("r04_portrait_orientation", False),
    ("r06_hopper_orientation", None),
])
def test_orientation_applied(tmp_path: Path, group: str, landscape: bool | None) -> None:
    """Files saved with Orientation 1..8 and compensating pixels display identically."""
    members = [CORPORA / m["file"] for m in GROUPS[group]["members"]]
    reference = None
    for file_id, path in enumerate(members, start=1):
        grid = _thumbs(path, tmp_path, file_id)["grid"]
        if landscape is not None:
            assert (grid.width > grid.height) == landscape, path.name
        if reference is None:
            reference = grid
            continue
        assert _diff(grid, reference) < 8, path.name  # a wrong flip/rotation differs by 30+


def test_orientation_check_would_catch_a_missing_rotation(tmp_path: Path) -> None:
    """The comparison above is sharp enough: an unrotated image differs a lot."""
    members = [CORPORA / m["file"] for m in GROUPS["r06_hopper_orientation"]["members"]]
    upright = _thumbs(members[0], tmp_path, 1)["grid"]
    assert _diff(upright, upright.transpose(Image.Transpose.ROTATE_90)) > 20
    assert _diff(upright, upright.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) > 20


def test_heic_rotated_once(tmp_path: Path) -> None:
    """pillow-heif already applies the HEIF rotation; EXIF says 6 too: not rotated twice."""
    thumbs = _thumbs(CORPORA / "exif" / "exif-samples" / "heic" / "mobile" / "iphone_13_pro_max.HEIC", tmp_path, 9)
    assert thumbs["preview"].size == (240, 320)
    assert thumbs["grid"].size == (96, 128)


def test_sizes_and_no_upscaling(tmp_path: Path) -> None:
    thumbs = _thumbs(CORPORA / "exif" / "lychee" / "aarhus.jpg", tmp_path, 3)  # 4032x3024
    assert thumbs["grid"].size == (128, 96)
    assert 0.9 * PREVIEW <= thumbs["preview"].width <= PREVIEW  # JPEG scale chosen with 10% slack
    assert thumbs["preview"].width / thumbs["preview"].height == pytest.approx(4 / 3, rel=0.01)
    small = _thumbs(CORPORA / "exif" / "pillow" / "hopper.jpg", tmp_path, 4)  # 128x128
    assert small["preview"].size == (128, 128) and small["grid"].size == (128, 128)
    tiny = fit(Image.new("RGB", (10, 5)), 100)
    assert tiny.size == (10, 5)


def test_video_thumbnail_frame_and_rotation(tmp_path: Path) -> None:
    result = process_file(os.fsencode(CORPORA / "exif" / "jcodec" / "metaedit" / "itunes.mov"), "video", 11,
                          str(tmp_path), GRID, PREVIEW, 85, 50_000_000)
    assert result.thumbnails == ("grid", "preview"), result.errors
    with Image.open(thumbnail_path(tmp_path, 11, "grid")) as im:
        assert im.size == (72, 128)  # 1920x1080 stored, rotated 90 degrees for display
    result = process_file(os.fsencode(CORPORA / "exif" / "gopro" / "max-heromode.mp4"), "video", 12,
                          str(tmp_path), GRID, PREVIEW, 85, 50_000_000)
    assert result.thumbnails == ("grid", "preview") and result.phash is not None


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = thumbnail_path(tmp_path, 5, "grid")
    write_jpeg_atomic(Image.new("RGB", (20, 10), (200, 10, 10)), target, 80)
    write_jpeg_atomic(Image.new("RGB", (30, 10), (10, 200, 10)), target, 80)  # replaced in place
    with Image.open(target) as im:
        assert im.size == (30, 10)
    with pytest.raises(OSError):  # JPEG cannot hold RGBA: the save fails half way
        write_jpeg_atomic(Image.new("RGBA", (30, 10)), thumbnail_path(tmp_path, 6, "grid"), 80)
    assert sorted(p.name for p in target.parent.iterdir()) == ["5.jpg"]


def _colour_video(path: Path, seconds: float, fps: int = 10) -> None:
    """Red for the first second, blue after it."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * fps)):
            colour = (220, 20, 20) if i < fps else (20, 20, 220)
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), colour))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@pytest.mark.parametrize("seconds,expect_blue", [(4.0, True), (1.5, False)])
def test_video_frame_about_one_second_in(tmp_path: Path, seconds: float, expect_blue: bool) -> None:
    path = tmp_path / "colours.mp4"
    _colour_video(path, seconds)
    result = process_file(os.fsencode(path), "video", 1, str(tmp_path), GRID, PREVIEW, 85, 50_000_000)
    assert result.errors == () and result.metadata.duration == pytest.approx(seconds, abs=0.15)
    with Image.open(thumbnail_path(tmp_path, 1, "grid")) as im:
        red, _, blue = im.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert (blue > red) == expect_blue
