"""Still images through Pillow (and pillow-heif): opening with a pixel limit,
header-level metadata, and the single reduced-scale decode used for
thumbnails and perceptual hashes.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PIL import Image, ImageFile, IptcImagePlugin, UnidentifiedImageError

from ..errors import MediaError, describe
from . import Metadata, build, pick_date
from . import exif as exifmod
from .heif import ensure_heif_opener
from .sniff import Sniffed

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own hard limit (2 x MAX_IMAGE_PIXELS)

# Decoders that hand back pixels with the orientation already applied:
# pillow-heif applies irot/imir (the EXIF tag is informational in HEIF) and
# Pillow's TIFF plugin transposes on load (its reported size is already swapped).
DECODER_ORIENTS = frozenset({"HEIF", "TIFF"})

TRANSPOSE = {  # EXIF orientation -> Pillow transposes that make the image upright
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


@contextmanager
def pixel_limit(max_pixels: int | None) -> Iterator[int]:
    """Make Pillow refuse images over max_pixels (its warning becomes an error)."""
    limit = max_pixels or DEFAULT_MAX_PIXELS
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit  # above it Pillow warns; the warning is made an error
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on odd metadata
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield limit
    finally:
        Image.MAX_IMAGE_PIXELS = old


def bomb_message(width: int, height: int, limit: int) -> str:
    return (f"image too large: {width}x{height} = {width * height} pixels exceeds the limit "
            f"of {limit} (possible decompression bomb)")


@contextmanager
def open_image(path: str | bytes, sniffed: Sniffed, max_pixels: int | None) -> Iterator[Image.Image]:
    """Open (not decode) an image; MediaError for unidentifiable or oversized input."""
    ensure_heif_opener()
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with pixel_limit(max_pixels) as limit, open(path, "rb") as f:
        try:
            im = Image.open(f)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = f"{found.group(1)} pixels" if found else "its pixel count"
            raise MediaError(f"image too large: {pixels} exceeds the limit of {limit} "
                             "(possible decompression bomb)") from exc
        except UnidentifiedImageError as exc:
            what = sniffed.format if sniffed.handler != "unknown" else "unknown data"
            raise MediaError(f"cannot identify image ({what}): not a readable image file") from exc
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise MediaError(f"corrupt {sniffed.format} header: {describe(exc)}") from exc
        with im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise MediaError(f"invalid image size {width}x{height}")
            if width * height > limit:
                raise MediaError(bomb_message(width, height, limit))
            yield im


def image_orientation(im: Image.Image, fields: dict[str, Any]) -> int | None:
    if im.format == "HEIF":
        original = im.info.get("original_orientation")
        if isinstance(original, int) and 1 <= original <= 8:
            return original
    return fields.get("orientation")


def _xmp_packet(im: Image.Image) -> bytes | str | None:
    packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if not packet and im.format == "TIFF":
        packet = getattr(im, "tag_v2", {}).get(700)
    return packet if isinstance(packet, (bytes, str)) else None


def _iptc(im: Image.Image) -> dict[tuple[int, int], Any] | None:
    if im.format not in ("JPEG", "MPO", "TIFF"):
        return None
    try:
        return IptcImagePlugin.getiptcinfo(im)
    except Exception as exc:
        log.debug("unreadable IPTC: %s", exc)
        return None


def read_fields(im: Image.Image, path: str | bytes | None = None) -> tuple[dict[str, Any], list]:
    """Merge EXIF (Pillow; exifread as fallback), XMP and IPTC fields of an open image."""
    fields: dict[str, Any] = {}
    dates: list = []
    try:
        exif_fields, exif_dates = exifmod.from_exif(im.getexif())
    except Exception as exc:
        if im.format in ("JPEG", "MPO", "TIFF", "WEBP", "HEIF"):
            log.debug("Pillow could not parse EXIF (%s); trying exifread", exc)
            exif_fields, exif_dates = _exifread_fields(path)
        else:
            log.debug("no readable EXIF: %s", exc)
            exif_fields, exif_dates = {}, []
    sources = [(exif_fields, exif_dates), exifmod.from_xmp(_xmp_packet(im)), exifmod.from_iptc(_iptc(im))]
    if im.format == "JPEG" and not exif_fields.get("make"):
        sources.append(_ciff_fields(im))
    for source_fields, source_dates in sources:
        for key, value in source_fields.items():
            fields.setdefault(key, value)
        dates.extend(source_dates)
    return fields, dates


def _ciff_fields(im: Image.Image) -> tuple[dict[str, Any], list]:
    """Canon CIFF metadata (old PowerShot JPEGs without EXIF), from Pillow's APPn list."""
    from .ciff import from_ciff

    for marker, body in getattr(im, "applist", []):
        if marker == "APP0" and body[6:14] == b"HEAPJPGM":
            fields, dates = from_ciff(body)
            fields.pop("ciff_rotation", None)
            return fields, dates
    return {}, []


def _exifread_fields(path: str | bytes | None) -> tuple[dict[str, Any], list]:
    if path is None:
        return {}, []
    import exifread

    try:
        with open(path, "rb") as f:
            tags = exifread.process_file(f, details=False)
    except Exception as exc:
        log.debug("exifread failed too: %s", exc)
        return {}, []
    return exifmod.from_exifread(tags)


def image_metadata(im: Image.Image, sniffed: Sniffed, path: str | bytes | None = None) -> Metadata:
    """Metadata of an opened image, without decoding its pixels (PNG eXIf aside)."""
    fields, dates = read_fields(im, path)
    orientation = image_orientation(im, fields)
    fields["orientation"] = orientation
    width, height = im.size
    if im.format not in DECODER_ORIENTS and orientation in (5, 6, 7, 8):
        width, height = height, width
    fmt = im.format or sniffed.format
    mime = sniffed.mime if sniffed.handler == "heif" else (Image.MIME.get(fmt) or sniffed.mime)
    extra: dict[str, Any] = {"mode": im.mode}
    frames = getattr(im, "n_frames", 1)
    if isinstance(frames, int) and frames > 1:
        extra["frames"] = frames
    if sniffed.handler not in ("unknown", "tiff", "heif") and sniffed.format != fmt and not (
        sniffed.format == "JPEG" and fmt == "MPO"
    ):
        extra["sniffed_format"] = sniffed.format
    return build(fields, pick_date(dates), width=width, height=height, fmt=fmt, mime=mime, extra=extra)


DRAFT_SLACK = 0.9  # accept a JPEG scale whose long side is >= 90% of the target


def draft_box(size: tuple[int, int], target_px: int) -> tuple[int, int]:
    """The box to pass to Image.draft so the long side ends up >= ~target_px.

    draft() keeps the largest DCT scale (1/2, 1/4, 1/8) whose result still
    covers the requested box. Asking for the image's own aspect ratio, with
    10% slack, lets a 4000x3000 photo decode at 1/4 (1000x750) for a 1024
    preview instead of 1/2: the preview is then 1000 px, never upscaled.
    """
    width, height = size
    longest = max(width, height)
    if longest <= target_px:
        return width, height
    factor = target_px * DRAFT_SLACK / longest
    return max(1, int(width * factor)), max(1, int(height * factor))


def decode_oriented(im: Image.Image, target_px: int) -> Image.Image:
    """Decode once, at the smallest JPEG scale still >= ~target_px, then shrink to at
    most target_px, upright and in RGB.

    Raises MediaError for truncated or corrupt pixel data.
    """
    orientation = None
    if im.format not in DECODER_ORIENTS:
        try:
            orientation = exifmod.orientation_value(im.getexif().get(0x0112))
        except Exception:
            orientation = None
    if im.format in ("JPEG", "MPO"):
        im.draft("RGB", draft_box(im.size, target_px))
    try:
        im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"image too large (possible decompression bomb): {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError) as exc:
        raise MediaError(f"corrupt or truncated {im.format or 'image'} data: {describe(exc)}") from exc
    return shrink_and_orient(to_rgb(im), target_px, orientation)


def shrink_and_orient(im: Image.Image, target_px: int, orientation: int | None) -> Image.Image:
    """Resize to at most target_px on the long side (bilinear, antialiased), then
    apply the EXIF orientation: transposing the smaller image is cheaper."""
    if max(im.size) > target_px:
        scale = target_px / max(im.size)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    for method in TRANSPOSE.get(orientation or 1, []):
        im = im.transpose(method)
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB view of any mode; transparency is flattened onto white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        import numpy as np

        arr = np.asarray(im, dtype=np.float64)
        top = arr.max() or 1.0
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype("uint8"), "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


# Starts with a literal byte so that the regex engine's fast prefix search is used (~30x faster).
_JPEG_BAD_MARKER = re.compile(rb"\xff(?:\xff)*([^\x00\xd0-\xd7\xff])")
_JPEG_VALID_IN_SCAN = frozenset({0xD9, 0xC4, 0xDA, 0xDB, 0xDD, 0xCC, 0xDC, 0xFE} | set(range(0xE0, 0xF0)))


def check_jpeg_data(data: bytes) -> str | None:
    """Find corrupt entropy-coded data that libjpeg only warns about (Pillow ignores it).

    Walks the marker segments; inside each scan, the first 0xFF that is not
    byte stuffing or a restart marker must start a real marker (EOI, tables,
    next scan). Garbage there (e.g. a sector of junk) is what libjpeg reports
    as "premature end of data segment". Returns a one-line problem or None.
    """
    n = len(data)
    i = 2
    while i + 2 <= n:
        if data[i] != 0xFF:
            j = data.find(b"\xff", i)
            if j < 0:
                return "corrupt JPEG data: no end-of-image marker"
            i = j  # extraneous bytes between segments: libjpeg skips them
            continue
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0xD9:
            return None
        if marker in (0x00, 0x01) or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if i + 4 > n or length < 2:
            return f"corrupt JPEG data: bad segment length at byte {i}"
        i += 2 + length
        if marker != 0xDA:
            continue
        m = _JPEG_BAD_MARKER.search(data, i)
        if m is None:
            return "truncated JPEG: image data ends without an end-of-image marker"
        found = m.group(1)[0]
        if found not in _JPEG_VALID_IN_SCAN:
            return (f"corrupt JPEG data: junk marker 0x{found:02x} inside image data at byte {m.start()} "
                    "(premature end of data segment)")
        i = m.end() - 2
    return "truncated JPEG: no end-of-image marker"
