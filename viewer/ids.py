"""Library ids from a URL: the only way a request names a file (never a path)."""

from __future__ import annotations

import re

from gallerfs.viewer.errors import bad_request

_ID = re.compile(r"^[1-9][0-9]{0,17}$")  # positive, below 2**63


def parse_id(text: str, what: str = "file id") -> int:
    if not _ID.match(text):
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise bad_request(f"{what} must be a positive integer, not {shown!r}")
    return int(text)


def parse_int(text: str | None, name: str, *, default: int, low: int, high: int) -> int:
    """A bounded integer query argument (offset, limit)."""
    if text is None or text == "":
        return default
    if not re.match(r"^[0-9]{1,10}$", text):
        raise bad_request(f"{name} must be a whole number, not {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise bad_request(f"{name} must be between {low} and {high}")
    return value
