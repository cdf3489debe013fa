"""How the viewer words a photo's metadata: pure functions from library values to display text."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from gallerfs.units import human_bytes


def shown(text: str) -> str:
    """A path decoded with surrogate escapes, as a page can show it (undecodable bytes as U+FFFD)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def exposure(seconds: float | None) -> str | None:
    if not seconds or seconds <= 0:
        return None
    if seconds >= 1:
        return f"{seconds:g} s"
    frac = Fraction(seconds).limit_denominator(100_000)
    if frac.numerator == 1:
        return f"1/{frac.denominator} s"
    return f"1/{round(1 / seconds)} s"


def when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "never"


def taken(meta: dict[str, Any]) -> str | None:
    value = meta.get("taken_at")
    if not value:
        return None
    text = str(value).replace("T", " ")
    if meta.get("utc_offset"):
        text += f" (UTC{meta['utc_offset']})"
    if meta.get("taken_source"):
        text += f" — from {meta['taken_source']}"
    return text


def gps(meta: dict[str, Any]) -> str | None:
    lat, lon = meta.get("latitude"), meta.get("longitude")
    if lat is None or lon is None:
        return None
    text = f"{abs(lat):.5f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.5f}° {'E' if lon >= 0 else 'W'}"
    if meta.get("altitude") is not None:
        text += f", {meta['altitude']:.0f} m"
    return text


def details(info: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of the photo page's sidebar, only those the library knows."""
    meta = info.get("metadata", {})
    camera = " ".join(x for x in (meta.get("make"), meta.get("model")) if x) or None
    settings = ", ".join(
        x
        for x in (
            f"f/{meta['f_number']:g}" if meta.get("f_number") else None,
            exposure(meta.get("exposure_time")),
            f"ISO {meta['iso']}" if meta.get("iso") else None,
            f"{meta['focal_length']:g} mm" if meta.get("focal_length") else None,
        )
        if x
    )
    dims = f"{meta['width']} × {meta['height']}" if meta.get("width") and meta.get("height") else None
    duration = f"{meta['duration']:.1f} s" if meta.get("duration") else None
    rows = [
        ("Taken", taken(meta)),
        ("Camera", camera),
        ("Lens", meta.get("lens")),
        ("Exposure", settings or None),
        ("Dimensions", dims),
        ("Duration", duration),
        ("Format", meta.get("format")),
        ("Size", human_bytes(int(info["size"]))),
        ("Modified", when(int(info["mtime_ns"]) / 1e9)),
        ("GPS", gps(meta)),
        ("Place", ", ".join(info["place"][k] for k in ("city", "region", "country") if k in info["place"])
         if info.get("place") else None),  # fmt: skip
        ("Source", info.get("source")),
        ("Path", info.get("source_path")),
        ("Indexing", None if info.get("state") == "done" else f"{info.get('state')}: {info.get('error') or ''}".strip(": ")),
    ]
    return [(label, str(value)) for label, value in rows if value]
