"""process_file: every stage runs, failures are recorded per stage, nothing raises."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import struct
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from gallerfs.indexer.media import media_kind
from gallerfs.indexer.process_file import FileResult, process_file
from gallerfs.indexer.thumbnails import thumbnail_path

CORPUS = (Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "exif").resolve()
STAGES = {"hash", "metadata", "decode", "thumbnail", "phash"}
ARGS = dict(grid_px=128, preview_px=320, quality=80, max_pixels=50_000_000)


def run(path: Path | bytes, root: Path, file_id: int = 1, kind: str | None = None) -> FileResult:
    raw = path if isinstance(path, bytes) else os.fsencode(path)
    kind = kind or media_kind(raw) or "image"
    return process_file(raw, kind, file_id, str(root), **ARGS)


def stages(result: FileResult) -> list[str]:
    return [stage for stage, _ in result.errors]


def sha256(path: Path | bytes) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_good_photo_everything(tmp_path: Path) -> None:
    path = CORPUS / "exif-samples/jpg/gps/DSCN0025.jpg"
    result = run(path, tmp_path, 42)
    assert result.errors == ()
    assert result.metadata.model == "COOLPIX P6000" and result.metadata.taken_at == "2008-10-22T16:43:21"
    assert result.content_hash == sha256(path) and len(result.partial_hash) == 64
    assert result.thumbnails == ("grid", "preview")
    assert thumbnail_path(tmp_path, 42, "grid").is_file() and thumbnail_path(tmp_path, 42, "preview").is_file()
    assert -(2**63) <= result.phash < 2**63 and -(2**63) <= result.dhash < 2**63


def test_hidden_jpeg_corruption_is_recorded(tmp_path: Path) -> None:
    """corrupted.jpg decodes in Pillow without complaint; only full-data checks catch it."""
    result = run(CORPUS / "exif-samples/jpg/corrupted.jpg", tmp_path)
    assert stages(result) == ["decode"]
    assert "premature end of data segment" in result.errors[0][1]
    assert result.metadata.taken_at == "2015-09-08T11:02:17"  # metadata intact
    assert result.content_hash == sha256(CORPUS / "exif-samples/jpg/corrupted.jpg")


@pytest.mark.parametrize("rel", ["pillow/truncated_jpeg.jpg", "pillow/truncated_image.png",
                                 "elodie/photo.heic", "exiftool/QuickTime.heic"])
def test_undecodable_still_hashed_and_described(tmp_path: Path, rel: str) -> None:
    result = run(CORPUS / rel, tmp_path)
    assert stages(result) == ["decode"]
    assert result.metadata is not None and result.metadata.width
    assert result.content_hash == sha256(CORPUS / rel)
    assert result.thumbnails == () and result.phash is None


def test_empty_file(tmp_path: Path) -> None:
    result = run(CORPUS / "elodie/invalid.jpg", tmp_path)
    assert result.errors == (("metadata", "empty file (0 bytes)"),)
    assert result.metadata is None and result.content_hash == hashlib.sha256(b"").hexdigest()


def test_not_an_image(tmp_path: Path) -> None:
    result = run(CORPUS / "pillow/broken.png", tmp_path)  # PNG signature, no IHDR
    assert stages(result) == ["metadata"] and result.metadata is None
    assert result.content_hash is not None


def test_truncated_copy(tmp_path: Path) -> None:
    data = (CORPUS / "lychee/aarhus.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    result = run(path, tmp_path)
    assert stages(result) == ["decode"] and "truncated" in result.errors[0][1]
    assert result.metadata.model == "Nexus 5X"


def _bomb(path: Path, side: int) -> None:
    """A valid greyscale PNG of side x side black pixels, compressed to almost nothing."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer = zlib.compressobj(9)
    rows = b"\x00" * (side + 1) * max(1, (1 << 20) // (side + 1))  # whole rows (filter byte + pixels)
    per_block = len(rows) // (side + 1)
    parts = []
    for start in range(0, side, per_block):
        count = min(per_block, side - start)
        parts.append(packer.compress(rows[: count * (side + 1)]))
    parts.append(packer.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
                     + chunk(b"IEND", b""))


def test_decompression_bomb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _bomb(path, 12_000)  # 144 megapixels in well under a megabyte
    assert path.stat().st_size < 1_000_000
    result = run(path, tmp_path)
    assert stages(result) == ["metadata"]
    assert result.errors[0][1] == ("image too large: 144000000 pixels exceeds the limit of 50000000 "
                                   "(possible decompression bomb)")
    assert result.content_hash == sha256(path) and result.thumbnails == ()


def test_pixel_limit_is_the_callers(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    _bomb(path, 3000)  # 9 MP: over a 5 MP limit, under the default one
    over = process_file(os.fsencode(path), "image", 1, str(tmp_path), 128, 320, 80, 5_000_000)
    assert stages(over) == ["metadata"] and "too large" in over.errors[0][1]
    under = process_file(os.fsencode(path), "image", 2, str(tmp_path), 128, 320, 80, 20_000_000)
    assert under.errors == () and under.metadata.width == 3000


def test_png_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes((CORPUS / "lychee/png.png").read_bytes())
    result = run(path, tmp_path)
    assert result.errors == () and result.metadata.format == "PNG" and result.thumbnails == ("grid", "preview")


def test_non_utf8_names(tmp_path: Path) -> None:
    for file_id, (src, name) in enumerate([("exif-samples/jpg/Canon_40D.jpg", b"\xff\xfe-photo.jpg"),
                                           ("lychee/train.mov", b"clip-\xe9.mov"),
                                           ("exiftool/Panasonic.rw2", b"raw-\xff.rw2")], start=1):
        path = os.fsencode(tmp_path) + b"/" + name
        with open(path, "wb") as f:
            f.write((CORPUS / src).read_bytes())
        result = run(path, tmp_path, file_id)
        assert result.errors == () and result.thumbnails == ("grid", "preview"), (name, result.errors)
        assert result.content_hash == sha256(path)


def test_raw_preview_and_raw_without_preview(tmp_path: Path) -> None:
    rw2 = run(CORPUS / "exiftool/Panasonic.rw2", tmp_path, 1)
    assert rw2.errors == () and rw2.thumbnails == ("grid", "preview")
    assert rw2.metadata.format == "RW2" and rw2.metadata.extra["preview_format"] == "JPEG"
    cr2 = run(CORPUS / "exiftool/CanonRaw.cr2", tmp_path, 2)  # exiftool stub: no preview stored
    assert stages(cr2) == ["decode"] and "no embedded JPEG preview" in cr2.errors[0][1]
    assert cr2.metadata.model == "Canon EOS 350D DIGITAL"


def test_video_without_frames_and_jxl(tmp_path: Path) -> None:
    keyed = run(CORPUS / "jcodec/metaedit/keyed.mp4", tmp_path, 1)  # metadata-only test file
    assert stages(keyed) == ["decode"] and keyed.metadata.latitude == pytest.approx(33.9951)
    jxl = run(CORPUS / "exiftool/JXL2.jxl", tmp_path, 2)
    assert stages(jxl) == ["decode"] and jxl.metadata.format == "JXL"


def test_missing_file(tmp_path: Path) -> None:
    result = run(tmp_path / "gone.jpg", tmp_path)
    assert stages(result) == ["hash", "metadata"] and result.metadata is None


def test_whole_corpus_never_raises(tmp_path: Path) -> None:
    """Every file of the exif corpus: no exception, one-line errors, known stages."""
    seen = 0
    for dirpath, _, names in os.walk(CORPUS):
        for name in names:
            if name.endswith((".json", ".md")):
                continue
            result = run(Path(dirpath) / name, tmp_path, 1000 + seen)
            seen += 1
            assert result.content_hash is not None
            for stage, message in result.errors:
                assert stage in STAGES and message and "\n" not in message
            if not result.errors:
                assert result.metadata is not None and result.thumbnails == ("grid", "preview")
    assert seen >= 190


def test_results_cross_process_boundaries(tmp_path: Path) -> None:
    files = [CORPUS / "exif-samples/jpg/Canon_40D.jpg", CORPUS / "exif-samples/jpg/corrupted.jpg",
             CORPUS / "elodie/invalid.jpg", CORPUS / "lychee/train.mov"]
    # forkserver, as the indexer's pool: forking this multi-threaded test process could copy a held lock.
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("forkserver")) as pool:
        futures = [pool.submit(process_file, os.fsencode(f), media_kind(f.name), i, str(tmp_path / "pool"), **ARGS)
                   for i, f in enumerate(files)]
        pooled = [f.result(timeout=120) for f in futures]
    direct = [run(f, tmp_path / "direct", i) for i, f in enumerate(files)]
    assert pooled == direct
    assert pickle.loads(pickle.dumps(direct[0])) == direct[0]


def _tiff_raw(path: Path, preview_jpeg: bytes, orientation: int) -> None:
    """A minimal DNG-like TIFF RAW: IFD0 (make, model, orientation, DNGVersion,
    SubIFDs) -> a 6000x4000 raw SubIFD, and IFD1 holding the JPEG preview."""
    entries0 = []
    blobs = b""
    base = 8

    def ascii_entry(tag: int, text: bytes, at: int) -> tuple[tuple, bytes]:
        data = text + b"\0"
        return (tag, 2, len(data), at), data

    ifd0_pos = base
    n0 = 6
    ifd0_size = 2 + n0 * 12 + 4
    data_pos = ifd0_pos + ifd0_size
    make, make_data = ascii_entry(0x10F, b"TestCam", data_pos)
    model, model_data = ascii_entry(0x110, b"Model X", data_pos + len(make_data))
    blobs = make_data + model_data
    sub_pos = data_pos + len(blobs)
    sub_size = 2 + 3 * 12 + 4
    ifd1_pos = sub_pos + sub_size
    ifd1_size = 2 + 3 * 12 + 4
    jpeg_pos = ifd1_pos + ifd1_size
    entries0 = [make, model, (0x112, 3, 1, orientation), (0x14A, 4, 1, sub_pos), (0xC612, 1, 4, 0x00000401)]
    entries0.sort()
    n0 = len(entries0)
    assert 2 + n0 * 12 + 4 <= ifd0_size

    def ifd(entries: list, next_ifd: int, size: int) -> bytes:
        out = struct.pack("<H", len(entries))
        for tag, typ, count, value in entries:
            if typ == 3:
                out += struct.pack("<HHIHH", tag, typ, count, value, 0)
            elif typ == 1:
                out += struct.pack("<HHI4s", tag, typ, count, bytes([1, 4, 0, 0]))
            else:
                out += struct.pack("<HHII", tag, typ, count, value)
        out += struct.pack("<I", next_ifd)
        return out.ljust(size, b"\0")

    sub = ifd([(0x100, 4, 1, 6000), (0x101, 4, 1, 4000), (0x103, 3, 1, 1)], 0, sub_size)
    ifd1 = ifd([(0x103, 3, 1, 6), (0x201, 4, 1, jpeg_pos), (0x202, 4, 1, len(preview_jpeg))], 0, ifd1_size)
    head = b"II*\0" + struct.pack("<I", ifd0_pos)
    path.write_bytes(head + ifd(entries0, ifd1_pos, ifd0_size) + blobs + sub + ifd1 + preview_jpeg)


def test_tiff_raw_embedded_preview_is_oriented(tmp_path: Path) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    with Image.open(CORPUS / "exif-samples/jpg/gps/DSCN0021.jpg") as im:  # 640x480 landscape
        im.convert("RGB").save(buf, "JPEG", quality=85)
    path = tmp_path / "shot.dng"
    _tiff_raw(path, buf.getvalue(), orientation=6)
    result = run(path, tmp_path, 77)
    assert result.errors == (), result.errors
    meta = result.metadata
    assert (meta.format, meta.make, meta.model, meta.orientation) == ("DNG", "TestCam", "Model X", 6)
    assert (meta.width, meta.height) == (4000, 6000)  # the sensor image, upright
    assert meta.extra["preview_size"] == [640, 480]
    with Image.open(thumbnail_path(tmp_path, 77, "preview")) as thumb:
        assert thumb.size == (240, 320)  # rotated once, like the raw
    assert result.phash is not None


def test_tiff_orientation_applied_once(tmp_path: Path) -> None:
    """Pillow's TIFF plugin transposes on load; gallerfs must not do it again."""
    result = run(CORPUS / "pillow/g4_orientation_6.tif", tmp_path, 5)
    assert result.errors == () and (result.metadata.width, result.metadata.height) == (590, 88)
    from PIL import Image

    with Image.open(thumbnail_path(tmp_path, 5, "preview")) as thumb:
        assert thumb.width > thumb.height


def test_jpeg_data_check_agrees_with_djpeg() -> None:
    """Over every JPEG of the corpus, the entropy-data check flags exactly the files
    where libjpeg's djpeg finds missing or damaged image data. djpeg's
    "extraneous bytes before marker" warnings (junk between segments, image intact)
    are deliberately not errors."""
    import json

    from gallerfs.indexer.metadata.image import check_jpeg_data

    truth = json.loads((CORPUS / "ground_truth.json").read_text())
    checked = 0
    for rel, record in truth.items():
        if record["FileType"] not in ("JPEG", "MPO") or record["djpeg"] is None:
            continue
        stderr = record["djpeg"]["stderr"] or ""
        damaged = "premature end" in stderr.lower() or "Premature end" in stderr
        problem = check_jpeg_data((CORPUS / rel).read_bytes())
        assert (problem is not None) == damaged, (rel, stderr, problem)
        checked += 1
    assert checked > 100


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    result = run(fifo, tmp_path)
    assert result.errors == (("metadata", "not a regular file"),) and result.content_hash is None
