"""Metadata extraction checked against exiftool's ground truth for every corpus file.

`../shared/corpora/exif/ground_truth.json` (exiftool 12.57 + Pillow/pillow-heif
decode checks) is the reference. Each file is one test case; where the truth
cannot be matched for a documented reason the specific behaviour is asserted.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from pathlib import Path

import pytest

from gallerfs.indexer.errors import MediaError
from gallerfs.indexer.media import media_kind
from gallerfs.indexer.metadata import Metadata, extract
from gallerfs.indexer.metadata.dates import parse_date, sort_time

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = (PROJECT.parent / "shared" / "corpora" / "exif").resolve()
TRUTH = json.loads((CORPUS / "ground_truth.json").read_text())
RAW_TOOL = {r["SourceFile"]: r for r in json.loads((CORPUS / "exiftool_raw.json").read_text())}

# Files that exiftool reads but that hold no decodable image at all.
NOT_MEDIA = {"elodie/invalid.jpg", "pillow/broken.png"}
CIFF_DATES = {k for k, v in RAW_TOOL.items() if "CIFF:DateTimeOriginal" in v}
# Formats whose decoder applies the orientation itself (size already upright).
DECODER_ORIENTS = {"HEIF", "TIFF"}

_cache: dict[str, Metadata | MediaError] = {}


def result(rel: str) -> Metadata | MediaError:
    if rel not in _cache:
        path = CORPUS / rel
        try:
            _cache[rel] = extract(os.fsencode(path), media_kind(path.name) or "image")
        except MediaError as exc:
            _cache[rel] = exc
    return _cache[rel]


def expected_date(truth: dict) -> tuple[str, str | None] | None:
    """(taken_at to the second, utc_offset) that the ground truth implies."""
    text = truth["date_taken"]
    if not text:
        return None
    taken = parse_date(text, "truth", offset=truth["OffsetTimeOriginal"])
    assert taken is not None, text
    offset = taken.utc_offset
    if truth["date_taken_tag"] == "QuickTime:CreateDate":
        offset = "+00:00"  # QuickTime CreateDate is UTC by specification
    return taken.taken_at[:19], offset


def expected_size(rel: str, truth: dict, meta: Metadata) -> tuple[int, int] | None:
    if meta.extra.get("raw") or truth["Duration"] is not None or rel.endswith(".avi"):
        w, h = truth["ImageWidth"], truth["ImageHeight"]  # sensor / stored video size
        if (truth["Rotation"] or 0) % 180 == 90 and truth["Duration"] is not None:
            w, h = h, w
        if (truth["Orientation"] or 1) >= 5 and meta.extra.get("raw"):
            w, h = h, w
        return w, h
    pil = truth["pillow"] or {}
    if not pil.get("size"):
        return None
    w, h = pil["size"]  # the decoded size, never EXIF's claim
    if pil.get("format") not in DECODER_ORIENTS and (truth["Orientation"] or 1) >= 5:
        w, h = h, w
    return w, h


@pytest.mark.parametrize("rel", sorted(TRUTH))
def test_against_ground_truth(rel: str) -> None:
    truth = TRUTH[rel]
    got = result(rel)
    if rel in NOT_MEDIA:
        assert isinstance(got, MediaError), f"{rel} should be recorded as unreadable"
        assert "\n" not in str(got) and str(got)
        return
    if truth["FileType"] == "JXL":
        # No JPEG XL decoder is installed (Pillow has no plugin): recognised, format
        # recorded, no size, date falls back to mtime, and the reason is kept.
        assert isinstance(got, Metadata)
        assert (got.format, got.mime, got.width, got.height) == ("JXL", "image/jxl", None, None)
        assert got.extra["unsupported"] and got.taken_source == "mtime"
        return
    assert isinstance(got, Metadata), f"{rel}: {got}"

    # date taken, to the second, with its offset
    want = expected_date(truth)
    if want is not None:
        assert (got.taken_at[:19], got.utc_offset) == want
        assert got.taken_source in ("exif", "xmp", "iptc", "quicktime")
        assert got.sort_time == pytest.approx(sort_time(got.taken_at, got.utc_offset))
    elif rel in CIFF_DATES:
        # Canon CIFF capture time: exiftool reads it (CIFF:DateTimeOriginal) but its
        # date_taken list leaves CIFF out; gallerfs uses it.
        raw = RAW_TOOL[rel]["CIFF:DateTimeOriginal"]
        assert got.taken_at == parse_date(raw, "t").taken_at and got.utc_offset is None
    elif truth["FileType"] == "AVI":
        # exiftool's truth leaves RIFF dates out of date_taken; gallerfs reads them.
        raw = RAW_TOOL[rel]["RIFF:DateTimeOriginal"]
        assert got.taken_source == "riff" and got.taken_at[:16] == parse_date(raw, "t").taken_at[:16]
    else:
        assert got.taken_source == "mtime"
        assert got.sort_time == pytest.approx((CORPUS / rel).stat().st_mtime)

    # camera
    assert got.make == truth["Make"]
    assert got.model == truth["Model"]

    # GPS: signed decimals, null-island and empty positions rejected
    if truth["GPSLatitude"] is None:
        assert (got.latitude, got.longitude) == (None, None)
    else:
        assert abs(got.latitude - float(truth["GPSLatitude"])) < 1e-6
        assert abs(got.longitude - float(truth["GPSLongitude"])) < 1e-6
    altitude = truth["GPSAltitude"]
    if altitude is None and truth["GPSLatitude"] is not None:
        # exiftool builds no Composite altitude without GPSAltitudeRef; the GPS tag is still there
        altitude = RAW_TOOL[rel].get("GPS:GPSAltitude")
    if altitude is None:
        assert got.altitude is None
    else:
        assert got.altitude == pytest.approx(float(altitude), abs=1e-3)

    # orientation as the file states it
    if truth["Orientation"] is None and "exiftool-structural-warning" in truth["flags"]:
        # exiftool drops an IFD0 it calls bad; Pillow still reads its Orientation
        assert got.orientation == (truth["pillow"] or {}).get("exif_orientation")
    else:
        assert got.orientation == truth["Orientation"]

    # size after orientation, as decoded
    assert (got.width, got.height) == expected_size(rel, truth, got)

    if got.extra.get("raw"):
        assert got.duration is None  # CR3's ISO-BMFF movie header has a nominal 1 s: not a video
    elif truth["Duration"] is not None:
        assert got.duration == pytest.approx(truth["Duration"], abs=0.01)
    assert got.format and isinstance(got.extra, dict)
    json.dumps(got.extra)
    for name in ("f_number", "exposure_time", "focal_length", "latitude", "longitude", "altitude",
                 "duration", "sort_time"):
        value = getattr(got, name)
        assert value is None or type(value) is float, (name, type(value))  # plain floats for SQLite
    for name in ("iso", "width", "height", "orientation"):
        value = getattr(got, name)
        assert value is None or type(value) is int, (name, type(value))


def test_zero_coordinate_kept_and_null_coordinates_dropped() -> None:
    zero = result("elodie/with-location-zero-coordinate.jpg")
    assert isinstance(zero, Metadata)
    assert zero.latitude == pytest.approx(51.55325) and zero.longitude == pytest.approx(-0.0041777778)
    null = result("elodie/with-null-coordinates.jpg")
    assert isinstance(null, Metadata) and null.latitude is None and null.longitude is None


def test_heic_orientation_not_applied_twice() -> None:
    for rel in ("exif-samples/heic/mobile/iphone_13_pro_max.HEIC", "immich/formats/motionphoto/samsung-one-ui-6.heic"):
        meta = result(rel)
        assert isinstance(meta, Metadata)
        assert meta.orientation == 6
        assert meta.height > meta.width  # upright portrait, rotated once by the decoder


def _png(width: int, height: int, rows: bytes | None = None) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    if rows is None:
        rows = b"".join(b"\x00" + bytes([(x * 7 + y * 3) % 256 for x in range(width)]) for y in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        extract(bytes(path), "image")


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes((CORPUS / "exif-samples/jpg/Canon_40D.jpg").read_bytes()[:300])
    with pytest.raises(MediaError) as info:
        extract(bytes(path), "image")
    assert "\n" not in str(info.value)


def test_decompression_bomb(tmp_path: Path) -> None:
    from tests.test_process_file import _bomb

    path = tmp_path / "bomb.png"
    _bomb(path, 12_000)  # 144 megapixels in a few hundred kilobytes
    assert path.stat().st_size < 1_000_000
    with pytest.raises(MediaError, match="too large"):
        extract(bytes(path), "image", max_pixels=50_000_000)


def test_png_named_jpg_is_read_as_png(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    path.write_bytes(_png(40, 30))
    meta = extract(bytes(path), "image")
    assert (meta.format, meta.mime, meta.width, meta.height) == ("PNG", "image/png", 40, 30)


def test_non_utf8_file_name(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/caf\xe9-\xff.jpg"
    with open(name, "wb") as f:
        f.write((CORPUS / "exif-samples/jpg/gps/DSCN0021.jpg").read_bytes())
    meta = extract(name, "image")
    assert meta.model == "COOLPIX P6000" and meta.latitude == pytest.approx(43.46708166666, abs=1e-6)


def test_non_utf8_video_name(tmp_path: Path) -> None:
    name = os.fsencode(tmp_path) + b"/clip-\xff.mov"
    with open(name, "wb") as f:
        f.write((CORPUS / "lychee/train.mov").read_bytes())
    meta = extract(name, "video")
    assert meta.taken_at == "2021-04-10T11:43:59" and meta.utc_offset == "+01:00"


def test_not_media_at_all(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_bytes(b"this is a text file, not a video\n" * 10)
    with pytest.raises(MediaError):
        extract(bytes(path), "video")


def test_date_parsing_details() -> None:
    taken = parse_date("2015:12:05 00:59:26", "exif", subsec="84", offset="+02:00")
    assert taken.taken_at == "2015-12-05T00:59:26.840000" and taken.utc_offset == "+02:00"
    assert taken.sort_time == pytest.approx(1449269966.84)
    assert parse_date("0000:00:00 00:00:00", "exif") is None
    assert parse_date("2021-04-10T11:43:59+0100", "quicktime").utc_offset == "+01:00"
    assert parse_date("2011:09:23 12:43:03Z", "xmp").utc_offset == "+00:00"
    assert parse_date("2003:08:31", "xmp").taken_at == "2003-08-31T00:00:00"
    assert parse_date("Mon Mar 10 15:04:43 2003", "riff").taken_at == "2003-03-10T15:04:43"
    assert math.isclose(sort_time("2020-01-01T00:00:00", None), 1577836800.0)


@pytest.mark.parametrize("rel", ["exif-samples/jpg/gps/DSCN0021.jpg", "lychee/aarhus.jpg", "exiftool/GoPro.jpg",
                                 "elodie/with-location-inv.jpg", "exiftool/Google.jpg"])
def test_exifread_fallback_reads_the_same_fields(rel: str) -> None:
    """exifread (details=False) is the fallback when Pillow cannot parse EXIF: it must agree."""
    import exifread
    from PIL import Image

    from gallerfs.indexer.metadata import exif as exifmod
    from gallerfs.indexer.metadata.dates import Taken

    with open(CORPUS / rel, "rb") as f:
        tags = exifread.process_file(f, details=False)
    fallback, fallback_dates = exifmod.from_exifread(tags)
    with Image.open(CORPUS / rel) as im:
        pillow, pillow_dates = exifmod.from_exif(im.getexif())
    for key in ("make", "model", "orientation", "f_number", "exposure_time", "iso", "focal_length",
                "latitude", "longitude", "altitude"):
        if pillow.get(key) is None:
            assert fallback.get(key) is None, key
        elif isinstance(pillow[key], float):
            assert fallback[key] == pytest.approx(pillow[key], abs=1e-9), key
        else:
            assert fallback[key] == pillow[key], key
    best = min(pillow_dates, key=lambda d: d[0])[1]
    assert isinstance(best, Taken) and min(fallback_dates, key=lambda d: d[0])[1] == best
