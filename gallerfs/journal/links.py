"""The link convention between journal entries and photos, and link parsing.

Convention
----------
An entry links a photo as ``_photos/YYYY-MM-DD/<name>``, relative to the
journal folder, percent-encoded (spaces, parentheses and other bytes as
``%XX``), e.g. ``![IMG_0042.jpg](_photos/2024-07-14/IMG_0042.jpg)`` or
``[IMG_0001 (2).jpg](_photos/2024-07-14/IMG_0001%20%282%29.jpg)``.

``MOUNT/journal/_photos/YYYY-MM-DD/`` is a read-only virtual folder of the
mount holding the photos of that day under the same names as
``MOUNT/by-date/YYYY/MM/DD/`` (de-duplicated by the mount's own naming). Entries
live at the top of the journal folder, so the same text is a path relative to
the entry (ordinary markdown previewers) and relative to the vault root
(Obsidian with the vault opened at ``MOUNT/journal/``). Images are embedded
(``![..](..)``), videos and RAW files are plain links.

When reading an entry, gallerfs also understands links of the form
``.../by-date/YYYY/MM/DD/<name>`` (e.g. ``../by-date/2024/07/14/x.jpg``) and
wikilinks (``[[_photos/2024-07-14/x.jpg]]``, ``![[...|alias]]``); every link in
the body that resolves to a library file is a journal *mention*.
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, unquote_to_bytes

PHOTOS_DIR = "_photos"

# Extensions that browsers and Obsidian render inline as images.
EMBEDDABLE = frozenset(".jpg .jpeg .jpe .jfif .png .gif .webp .avif .bmp".split())

# [text](target "title") and ![alt](target); target may be <...>.
_MD_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>\n]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_WIKI_LINK = re.compile(r"!?\[\[([^\]\n]+)\]\]")
_HTML_ATTR = re.compile(r"""\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_PHOTOS_PATH = re.compile(r"(?:^|/)" + PHOTOS_DIR + r"/(\d{4})-(\d{2})-(\d{2})/([^/]+)$")
_BY_DATE_PATH = re.compile(r"(?:^|/)by-date/(\d{4})/(\d{2})/(\d{2})/([^/]+)$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class PhotoRef:
    """A link target that names one photo of one day by its mount name."""

    day: dt.date
    name: str  # as os.fsdecode gives it (undecodable bytes as surrogate escapes)


def photo_target(day: dt.date, name: str) -> str:
    """The link target of a photo in an entry: ``_photos/YYYY-MM-DD/<name>``, percent-encoded."""
    return f"{PHOTOS_DIR}/{day.isoformat()}/{quote(os.fsencode(name), safe='')}"


def escape_link_text(text: str) -> str:
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"([\[\]\\])", r"\\\1", text)


def photo_markdown(day: dt.date, name: str) -> str:
    """One markdown line linking a photo: an embed for browser images, else a link."""
    ext = os.path.splitext(name)[1].lower()
    bang = "!" if ext in EMBEDDABLE else ""
    return f"{bang}[{escape_link_text(name)}]({photo_target(day, name)})"


def link_targets(markdown_text: str) -> list[str]:
    """Every link target in a markdown text, in order: markdown links, wikilinks, HTML src/href."""
    found: list[tuple[int, str]] = []
    for m in _MD_LINK.finditer(markdown_text):
        target = m.group(1)
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        found.append((m.start(), target))
    for m in _WIKI_LINK.finditer(markdown_text):
        target = m.group(1).split("|", 1)[0].split("#", 1)[0].strip()
        found.append((m.start(), target))
    for m in _HTML_ATTR.finditer(markdown_text):
        found.append((m.start(), m.group(1) if m.group(1) is not None else m.group(2)))
    found.sort()
    return [t for _, t in found if t]


def parse_photo_target(target: str) -> PhotoRef | None:
    """The photo a link target names under the convention (or by-date/), else None."""
    if _SCHEME.match(target) and not target.lower().startswith("file:"):
        return None
    if target.lower().startswith("file://"):
        target = target[7:]
    target = target.split("#", 1)[0].split("?", 1)[0]
    try:
        path = os.fsdecode(unquote_to_bytes(target))
    except ValueError:
        return None
    path = posixpath.normpath(path.replace("\\", "/"))
    m = _PHOTOS_PATH.search(path)
    if m is None:
        m = _BY_DATE_PATH.search(path)
    if m is None:
        return None
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return PhotoRef(day, m[4])


def replace_photo_links(markdown_text: str, replace: Callable[[PhotoRef, str], str]) -> str:
    """The text with every markdown link or embed of a photo replaced by ``replace(ref, whole link)``."""

    def one(m: re.Match[str]) -> str:
        target = m.group(1)
        if target.startswith("<") and target.endswith(">"):
            target = target[1:-1]
        ref = parse_photo_target(target)
        return m.group(0) if ref is None else replace(ref, m.group(0))

    return _MD_LINK.sub(one, markdown_text)


def photo_refs(markdown_text: str) -> list[PhotoRef]:
    """The distinct photos a markdown text links to, in order of first appearance."""
    seen: dict[PhotoRef, None] = {}
    for target in link_targets(markdown_text):
        ref = parse_photo_target(target)
        if ref is not None:
            seen.setdefault(ref, None)
    return list(seen)
