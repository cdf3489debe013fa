"""Content hashes and perceptual hashes."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest
from PIL import Image

from gallerfs.indexer.hashing import (
    CHUNK,
    PARTIAL,
    file_hashes,
    hamming,
    perceptual_hashes,
    to_signed64,
)

CORPORA = (Path(__file__).resolve().parent.parent.parent / "shared" / "corpora").resolve()
GROUPS = json.loads((CORPORA / "neardup" / "groups.json").read_text())


def _partial(data: bytes) -> str:
    h = hashlib.sha256(str(len(data)).encode() + b"\0" + data[:PARTIAL])
    if len(data) > PARTIAL:
        h.update(data[-PARTIAL:])
    return h.hexdigest()


@pytest.mark.parametrize("size", [0, 1, PARTIAL - 1, PARTIAL, PARTIAL + 1, 2 * PARTIAL + 5, 3 * CHUNK + 17])
def test_file_hashes_match_definition(tmp_path: Path, size: int) -> None:
    data = bytes((i * 131 + i // 977) % 256 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    content, partial = file_hashes(bytes(path))
    assert content == hashlib.sha256(data).hexdigest()
    assert partial == _partial(data)


def test_partial_hash_sees_size_head_and_tail_only(tmp_path: Path) -> None:
    base = bytearray(b"x" * (5 * PARTIAL))
    a = tmp_path / "a"
    a.write_bytes(bytes(base))
    middle = bytearray(base)
    middle[2 * PARTIAL] = ord("y")
    b = tmp_path / "b"
    b.write_bytes(bytes(middle))
    tail = bytearray(base)
    tail[-1] = ord("y")
    c = tmp_path / "c"
    c.write_bytes(bytes(tail))
    ha, hb, hc = file_hashes(bytes(a)), file_hashes(bytes(b)), file_hashes(bytes(c))
    assert ha[1] == hb[1] and ha[0] != hb[0]  # a middle change only shows in the full hash
    assert ha[1] != hc[1]
    longer = tmp_path / "d"
    longer.write_bytes(bytes(base) + b"x")
    assert file_hashes(bytes(longer))[1] != ha[1]  # size is part of it


def test_signed64_and_hamming() -> None:
    assert to_signed64(2**64 - 1) == -1
    assert to_signed64(2**63) == -(2**63)
    assert to_signed64(2**63 - 1) == 2**63 - 1
    assert hamming(-1, 0) == 64
    assert hamming(to_signed64(0b1011), 0b0001) == 2
    assert hamming(-5, -5) == 0


def _hashes(path: Path) -> tuple[int | None, int | None]:
    with Image.open(path) as im:
        im.draft("RGB", (256, 256))
        return perceptual_hashes(im.convert("RGB"))


def test_resized_recompressed_copy_is_close(tmp_path: Path) -> None:
    src = CORPORA / "exif" / "exif-samples" / "jpg" / "gps" / "DSCN0021.jpg"
    with Image.open(src) as im:
        im.convert("RGB").resize((320, 240), Image.Resampling.LANCZOS).save(tmp_path / "small.jpg", quality=55)
        im.convert("RGB").save(tmp_path / "same.webp", quality=70)
    p0, d0 = _hashes(src)
    for copy in ("small.jpg", "same.webp"):
        p1, d1 = _hashes(tmp_path / copy)
        assert hamming(p0, p1) <= 6, copy
        assert hamming(d0, d1) <= 8, copy


NEAR_GROUPS = ("r02_iphone_hdr", "r03_landscape_orientation", "r04_portrait_orientation",
               "r06_hopper_orientation", "r07_flower_jpg_webp", "r08_flower2_jpg_webp")


def test_corpus_near_duplicate_groups_are_close() -> None:
    """Orientation variants (after orientation is applied) and re-encodes of one photo."""
    from gallerfs.indexer.metadata.image import decode_oriented

    for group in GROUPS["real"]:
        if group["group"] not in NEAR_GROUPS:
            continue
        hashes = []
        for member in group["members"]:
            with Image.open(CORPORA / member["file"]) as im:
                hashes.append(perceptual_hashes(decode_oriented(im, 256))[0])
        worst = max(hamming(a, b) for a, b in itertools.combinations(hashes, 2))
        assert worst <= 6, group["group"]


def test_unrelated_photos_are_far_apart() -> None:
    files = ["exif-samples/jpg/gps/DSCN0021.jpg", "lychee/aarhus.jpg", "pillow/hopper.jpg",
             "immich/albums/nature/prairie_falcon.jpg", "immich/albums/nature/tanners_ridge.jpg",
             "exif-samples/jpg/Canon_40D.jpg", "lychee/mongolia.jpeg", "exif-samples/jpg/hdr/canon_hdr_NO.jpg"]
    hashes = [_hashes(CORPORA / "exif" / f) for f in files]
    for (pa, da), (pb, db) in itertools.combinations(hashes, 2):
        assert hamming(pa, pb) >= 16
        assert hamming(da, db) >= 10


def test_flat_images_have_no_perceptual_hash() -> None:
    """Solid-colour placeholders would all share one hash: they get none."""
    for colour, size in (((255, 255, 255), (100, 150)), ((137, 137, 137), (403, 201)), ((0, 0, 200), (100, 100))):
        assert perceptual_hashes(Image.new("RGB", size, colour)) == (None, None)
    with Image.open(CORPORA / "exif" / "elodie" / "with-location.jpg") as white:
        assert perceptual_hashes(white.convert("RGB")) == (None, None)
