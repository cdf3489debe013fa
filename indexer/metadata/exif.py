"""Camera fields from EXIF (Pillow's parser), XMP packets and IPTC records.

Pillow's `getexif()` is used for EXIF because it is both correct on this
corpus and the fastest reader measured here (see bench/bench_phase2.py);
exifread is the fallback when Pillow cannot parse an EXIF block.

Every reader returns a plain dict with the same keys (see `FIELDS`) plus a
list of candidate dates ranked by how much they are trusted; missing or
invalid values are left out, never guessed.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from PIL import Image

from .dates import Taken, parse_date

log = logging.getLogger(__name__)

FIELDS = (
    "make", "model", "lens", "f_number", "exposure_time", "iso", "focal_length",
    "orientation", "latitude", "longitude", "altitude", "exif_width", "exif_height",
)

# Date ranks: lower is preferred (same order as exiftool's "date taken" in the corpus notes).
RANK_EXIF_ORIGINAL = 0
RANK_EXIF_DIGITIZED = 1
RANK_XMP_ORIGINAL = 2
RANK_XMP_PHOTOSHOP = 3
RANK_XMP_CREATE = 4
RANK_IPTC = 5
RANK_IFD0_ORIGINAL = 6  # some RAW writers put DateTimeOriginal in IFD0

IFD_EXIF = 0x8769
IFD_GPS = 0x8825

Dates = list[tuple[int, Taken]]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (tuple, list)):
        return None
    parts = [p.strip() for p in str(value).split("\x00")]
    return next((p for p in parts if p), None)  # C strings: stop at the first NUL


def _number(value: Any) -> float | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if len(value) == 1 else None
    if value is None or isinstance(value, (str, bytes)):
        try:
            return _number(_rational_text(value)) if value is not None else None
        except ValueError:
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def _rational_text(value: str | bytes) -> float:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip("\x00 ")
    if "/" in text:
        num, den = text.split("/", 1)
        return float(num) / float(den)
    return float(text)


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def orientation_value(value: Any) -> int | None:
    """An EXIF Orientation 1-8, or None for anything else."""
    number = _number(value)
    if number is None or not number.is_integer() or not 1 <= number <= 8:
        return None
    return int(number)


def _degrees(value: Any) -> float | None:
    """(deg, min, sec) rationals, or a single number, to decimal degrees."""
    if isinstance(value, (tuple, list)):
        parts = [_number(v) for v in value]
        numbers = [p for p in parts if p is not None]
        if not parts or len(numbers) != len(parts):
            return None
        total = 0.0
        for part, scale in zip(numbers, (1.0, 60.0, 3600.0), strict=False):
            total += part / scale
        return total
    return _number(value)


def valid_position(lat: float | None, lon: float | None) -> bool:
    """Reject missing, out-of-range and "null island" (exactly 0, 0) positions."""
    if lat is None or lon is None:
        return False
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return False
    return not (lat == 0.0 and lon == 0.0)


def gps_fields(lat: float | None, lat_ref: Any, lon: float | None, lon_ref: Any,
               alt: float | None, alt_ref: Any) -> dict[str, float]:
    """Signed decimal position (S/W negative) and altitude (below sea level negative)."""
    if lat is None or lon is None:
        return {}
    lat_ref_text = (_text(lat_ref) or "N").upper()[:1]
    lon_ref_text = (_text(lon_ref) or "E").upper()[:1]
    if lat_ref_text == "S":
        lat = -abs(lat)
    if lon_ref_text == "W":
        lon = -abs(lon)
    if not valid_position(lat, lon):
        return {}
    out = {"latitude": lat, "longitude": lon}
    if alt is not None:
        ref = alt_ref
        if isinstance(ref, bytes):
            ref = ref[:1] == b"\x01"
        elif isinstance(ref, (tuple, list)):
            ref = bool(ref and ref[0] == 1)
        else:
            ref = _number(ref) == 1
        out["altitude"] = -abs(alt) if ref else alt
    return out


def from_exif(exif: Image.Exif) -> tuple[dict[str, Any], Dates]:
    """Fields and ranked dates from a Pillow Exif object."""
    ifd0 = dict(exif)
    try:
        sub = exif.get_ifd(IFD_EXIF)
    except Exception as exc:  # malformed sub-IFD: keep what IFD0 has
        log.debug("unreadable EXIF sub-IFD: %s", exc)
        sub = {}
    try:
        gps = exif.get_ifd(IFD_GPS)
    except Exception as exc:
        log.debug("unreadable GPS IFD: %s", exc)
        gps = {}
    return from_ifds(ifd0, sub, gps)


def from_ifds(ifd0: dict[int, Any], sub: dict[int, Any], gps: dict[int, Any]) -> tuple[dict[str, Any], Dates]:
    """Fields and ranked dates from IFD0, the EXIF sub-IFD and the GPS IFD (tag -> value)."""
    out: dict[str, Any] = {}
    dates: Dates = []
    _put(out, "make", _text(ifd0.get(0x010F)))
    _put(out, "model", _text(ifd0.get(0x0110)))
    _put(out, "orientation", orientation_value(ifd0.get(0x0112)))
    _put(out, "lens", _text(sub.get(0xA434)))
    _put(out, "f_number", _positive(sub.get(0x829D)))
    _put(out, "exposure_time", _positive(sub.get(0x829A)))
    iso = _positive(sub.get(0x8827))
    _put(out, "iso", int(iso) if iso is not None else None)
    _put(out, "focal_length", _positive(sub.get(0x920A)))
    width, height = _positive(sub.get(0xA002)), _positive(sub.get(0xA003))
    _put(out, "exif_width", int(width) if width else None)
    _put(out, "exif_height", int(height) if height else None)

    original = parse_date(sub.get(0x9003), "exif", sub.get(0x9291), _text(sub.get(0x9011)))
    if original:
        dates.append((RANK_EXIF_ORIGINAL, original))
    digitized = parse_date(sub.get(0x9004), "exif", sub.get(0x9292), _text(sub.get(0x9012)))
    if digitized:
        dates.append((RANK_EXIF_DIGITIZED, digitized))
    ifd0_original = parse_date(ifd0.get(0x9003), "exif")
    if ifd0_original:
        dates.append((RANK_IFD0_ORIGINAL, ifd0_original))

    if gps:
        out.update(gps_fields(
            _degrees(gps.get(2)), gps.get(1), _degrees(gps.get(4)), gps.get(3),
            _number(gps.get(6)), gps.get(5),
        ))
    return out, dates


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and key not in out:
        out[key] = value


# --- XMP ---------------------------------------------------------------------------

def _xmp_value(xmp: str, name: str) -> str | None:
    """Value of an XMP property written as an attribute or a simple element."""
    pattern = _XMP_PATTERNS.get(name)
    if pattern is None:
        esc = re.escape(name)
        pattern = re.compile(
            rf"{esc}\s*=\s*\"([^\"]*)\"|{esc}\s*=\s*'([^']*)'|<{esc}>\s*([^<]*?)\s*</{esc}>"
        )
        _XMP_PATTERNS[name] = pattern
    m = pattern.search(xmp)
    if not m:
        return None
    value = next((g for g in m.groups() if g is not None), None)
    return value.strip() if value and value.strip() else None


_XMP_PATTERNS: dict[str, re.Pattern[str]] = {}
_XMP_COORD = re.compile(r"^\s*(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?(?:,(\d+(?:\.\d+)?))?\s*([NSEW])?\s*$", re.IGNORECASE)


def _xmp_coordinate(text: str | None) -> tuple[float, str] | None:
    """XMP GPS coordinate 'DDD,MM.mmk' or 'DDD,MM,SSk' -> (degrees, ref)."""
    if not text:
        return None
    m = _XMP_COORD.match(text)
    if not m:
        number = _number(text)
        return (abs(number), "S" if number < 0 else "N") if number is not None else None
    deg = float(m.group(1))
    minutes = float(m.group(2) or 0)
    seconds = float(m.group(3) or 0)
    return deg + minutes / 60 + seconds / 3600, (m.group(4) or "N").upper()


def from_xmp(packet: bytes | str | None) -> tuple[dict[str, Any], Dates]:
    """Fields and ranked dates from an XMP packet."""
    if not packet:
        return {}, []
    xmp = packet.decode("utf-8", "replace") if isinstance(packet, bytes) else packet
    out: dict[str, Any] = {}
    dates: Dates = []
    for rank, name in (
        (RANK_XMP_ORIGINAL, "exif:DateTimeOriginal"),
        (RANK_XMP_PHOTOSHOP, "photoshop:DateCreated"),
        (RANK_XMP_CREATE, "xmp:CreateDate"),
    ):
        taken = parse_date(_xmp_value(xmp, name), "xmp")
        if taken:
            dates.append((rank, taken))
    _put(out, "make", _xmp_value(xmp, "tiff:Make"))
    _put(out, "model", _xmp_value(xmp, "tiff:Model"))
    _put(out, "orientation", orientation_value(_xmp_value(xmp, "tiff:Orientation")))
    _put(out, "lens", _xmp_value(xmp, "exifEX:LensModel") or _xmp_value(xmp, "aux:Lens"))
    lat = _xmp_coordinate(_xmp_value(xmp, "exif:GPSLatitude"))
    lon = _xmp_coordinate(_xmp_value(xmp, "exif:GPSLongitude"))
    if lat and lon:
        alt_text = _xmp_value(xmp, "exif:GPSAltitude")
        alt = _number(alt_text) if alt_text else None
        out.update(gps_fields(lat[0], lat[1], lon[0], lon[1], alt, _xmp_value(xmp, "exif:GPSAltitudeRef")))
    return out, dates


# --- IPTC --------------------------------------------------------------------------

def from_iptc(iptc: dict[tuple[int, int], Any] | None) -> tuple[dict[str, Any], Dates]:
    """Date from IPTC DateCreated (2:55) + TimeCreated (2:60)."""
    if not iptc:
        return {}, []
    day = iptc.get((2, 55))
    if isinstance(day, list):
        day = day[0]
    if not isinstance(day, bytes) or len(day) < 8 or not day[:8].isdigit():
        return {}, []
    text = f"{day[:4].decode()}:{day[4:6].decode()}:{day[6:8].decode()}"
    time = iptc.get((2, 60))
    if isinstance(time, list):
        time = time[0]
    if isinstance(time, bytes) and len(time) >= 6 and time[:6].isdigit():
        t = time.decode("latin-1")
        text += f" {t[0:2]}:{t[2:4]}:{t[4:6]}{t[6:]}"
    taken = parse_date(text, "iptc")
    return {}, [(RANK_IPTC, taken)] if taken else []


# --- exifread fallback -------------------------------------------------------------

def from_exifread(tags: dict[str, Any]) -> tuple[dict[str, Any], Dates]:
    """Same fields from exifread's tag dict (used when Pillow cannot parse EXIF)."""
    def val(name: str) -> Any:
        tag = tags.get(name)
        if tag is None:
            return None
        values = tag.values
        if isinstance(values, list):
            values = [_ratio(v) for v in values]
            return values[0] if len(values) == 1 else tuple(values)
        return values

    out: dict[str, Any] = {}
    dates: Dates = []
    _put(out, "make", _text(val("Image Make")))
    _put(out, "model", _text(val("Image Model")))
    _put(out, "orientation", orientation_value(val("Image Orientation")))
    _put(out, "lens", _text(val("EXIF LensModel")))
    _put(out, "f_number", _positive(val("EXIF FNumber")))
    _put(out, "exposure_time", _positive(val("EXIF ExposureTime")))
    iso = _positive(val("EXIF ISOSpeedRatings"))
    _put(out, "iso", int(iso) if iso is not None else None)
    _put(out, "focal_length", _positive(val("EXIF FocalLength")))
    for rank, name, subsec, offset in (
        (RANK_EXIF_ORIGINAL, "EXIF DateTimeOriginal", "EXIF SubSecTimeOriginal", "EXIF OffsetTimeOriginal"),
        (RANK_EXIF_DIGITIZED, "EXIF DateTimeDigitized", "EXIF SubSecTimeDigitized", "EXIF OffsetTimeDigitized"),
    ):
        taken = parse_date(val(name), "exif", val(subsec), _text(val(offset)))
        if taken:
            dates.append((rank, taken))
    out.update(gps_fields(
        _degrees(val("GPS GPSLatitude")), val("GPS GPSLatitudeRef"),
        _degrees(val("GPS GPSLongitude")), val("GPS GPSLongitudeRef"),
        _number(val("GPS GPSAltitude")), val("GPS GPSAltitudeRef"),
    ))
    return out, dates


def _ratio(value: Any) -> Any:
    num = getattr(value, "num", None)
    den = getattr(value, "den", None)
    if num is not None and den is not None:
        return num / den if den else float("nan")
    return value
