"""Exporting an entry as a self-contained e-mail (RFC 5322, MIME), never sending it.

The message is ``multipart/alternative``: the entry's markdown as
``text/plain``, and its HTML rendering (Python-Markdown) inside
``multipart/related`` with every linked photo as an inline, resized JPEG
referenced by ``cid:`` — made from the library's cached preview when it is
large enough (so offline photos, RAW files and videos are shown too), else
from the original. A link to a photo that can be shown becomes the image;
links that point nowhere outside the journal (other photos, relative paths)
are reduced to their text. Thunderbird, mutt and other clients open it.
"""

from __future__ import annotations

import email.policy
import errno
import email.utils
import html
import io
import logging
import os
import re
import secrets
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import markdown
from PIL import Image, ImageOps

from gallerfs.db import journal as jdb
from gallerfs.errors import GallerfsError
from gallerfs.journal.entries import journal_folder
from gallerfs.journal.links import PhotoRef, parse_photo_target, photo_refs, replace_photo_links
from gallerfs.journal.periods import Period, missing_entry
from gallerfs.journal.photos import resolve_refs
from gallerfs.journal.template import split_front_matter, title
from gallerfs.indexer.thumbnails import thumbnail_path

if TYPE_CHECKING:
    from gallerfs.config import Settings
    from gallerfs.db.connection import Database
    from gallerfs.paths import LibraryPaths

log = logging.getLogger(__name__)

_IMG_TAG = re.compile(r"<img\b([^>]*?)\s*/?>", re.IGNORECASE | re.DOTALL)
_A_TAG = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""\b([a-zA-Z-]+)\s*=\s*("[^"]*"|'[^']*')""")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class InlineImage:
    cid: str  # without angle brackets
    filename: str
    data: bytes  # JPEG


@dataclass
class ExportReport:
    path: Path
    subject: str
    images: list[dict[str, object]] = field(default_factory=list)  # file_id, name, bytes
    skipped: list[dict[str, object]] = field(default_factory=list)  # file_id or target, reason


def resized_jpeg(path: str | bytes, max_px: int, max_pixels: int = 250_000_000) -> bytes:
    """The image at path, orientation applied, long side at most max_px, as JPEG bytes."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - HEIC support is optional at run time
        pass
    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(os.fsdecode(path)) as im:
        im.draft("RGB", (max_px, max_px))
        im = ImageOps.exif_transpose(im)
        im.thumbnail((max_px, max_px))
        if im.mode not in ("RGB", "L"):
            background = Image.new("RGB", im.size, "white")
            rgba = im.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            im = background
        out = io.BytesIO()
        im.save(out, "JPEG", quality=85, optimize=True)
        return out.getvalue()


def inline_jpeg(paths: LibraryPaths, settings: Settings, loc: jdb.MentionedFile, max_px: int) -> bytes:
    """The image to show for a library file: its cached preview when that is large enough
    (fast, upright, and there for offline sources, RAW files and video frames), else the original."""
    preview = thumbnail_path(paths.thumbnails, loc.file_id, "preview")
    use_preview = preview.is_file() and (max_px <= settings.thumbnail_preview_px or not loc.online)
    if use_preview or loc.kind == "video":
        try:
            return resized_jpeg(str(preview), max_px, settings.max_image_pixels)
        except OSError:
            if loc.kind == "video":
                raise
            log.info("journal export: preview of %d unreadable, using the original", loc.file_id)
    if not loc.online:
        raise OSError(errno.ENOMEDIUM, "its source is offline")
    return resized_jpeg(loc.path, max_px, settings.max_image_pixels)


def _shown(name: str) -> str:
    """A file name as text a message can carry (bytes that are not UTF-8 become U+FFFD)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _attrs(text: str) -> dict[str, str]:
    return {m[1].lower(): html.unescape(m[2][1:-1]) for m in _ATTR.finditer(text)}


def rewrite_html(body_html: str, cids: dict[str, str]) -> str:
    """Point photo images at their cid; turn photo links into images; drop links that lead nowhere.

    ``cids`` maps link targets (as written in the entry) to content ids.
    """

    def img(m: re.Match[str]) -> str:
        attrs = _attrs(m.group(1))
        src = attrs.get("src", "")
        if src in cids:
            alt = html.escape(attrs.get("alt", ""), quote=True)
            return f'<img src="cid:{cids[src]}" alt="{alt}" style="max-width:100%;height:auto">'
        if not _SCHEME.match(src) or src.lower().startswith("file:"):
            return html.escape(attrs.get("alt", ""))
        return m.group(0)

    def link(m: re.Match[str]) -> str:
        attrs = _attrs(m.group(1))
        href = attrs.get("href", "")
        inner = m.group(2)
        if href in cids:
            alt = html.escape(re.sub(r"<[^>]+>", "", inner), quote=True)
            return f'<img src="cid:{cids[href]}" alt="{alt}" style="max-width:100%;height:auto">'
        if href.startswith("#") or (_SCHEME.match(href) and not href.lower().startswith("file:")):
            return m.group(0)
        return inner

    return _A_TAG.sub(link, _IMG_TAG.sub(img, body_html))


def build_message(
    *,
    subject: str,
    text: str,
    body_html: str,
    images: Sequence[InlineImage],
    from_addr: str,
    to_addr: str | None = None,
) -> EmailMessage:
    """An RFC 5322 message: plain text and HTML alternatives, images related to the HTML."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = from_addr
    if to_addr:
        msg["To"] = to_addr
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="gallerfs.localhost")
    msg["X-Mailer"] = "gallerfs journal export"
    msg.set_content(text, subtype="plain", charset="utf-8")
    document = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        '<body style="font-family:sans-serif;max-width:48em;margin:auto">\n'
        f"{body_html}\n</body></html>\n"
    )
    msg.add_alternative(document, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for image in images:
        html_part.add_related(
            image.data, maintype="image", subtype="jpeg", cid=f"<{image.cid}>",
            filename=image.filename, disposition="inline",
        )  # fmt: skip
    return msg


def default_from() -> str:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "gallerfs"
    return email.utils.formataddr((user, f"{user}@localhost"))


def export_entry(
    paths: LibraryPaths,
    settings: Settings,
    db: Database,
    period: Period,
    out: Path,
    *,
    from_addr: str | None = None,
    to_addr: str | None = None,
    max_px: int = 1024,
) -> ExportReport:
    """Write the entry of ``period`` as an .eml file at ``out``."""
    path = journal_folder(paths, settings) / period.filename
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise missing_entry(period) from None
    except OSError as exc:
        raise GallerfsError(f"cannot read {path}: {exc.strerror}") from None
    _, body = split_front_matter(raw.decode("utf-8", "replace"))
    heading = _HEADING.search(body)
    subject = heading.group(1) if heading else title(period)
    report = ExportReport(Path(out), subject)

    refs = photo_refs(body)
    ids = resolve_refs(db, refs)
    locations = jdb.file_locations(db, [i for i in ids if i is not None])
    token = secrets.token_hex(6)  # unique per message, so forwarded messages do not mix images
    by_ref: dict[PhotoRef, str] = {}
    images: list[InlineImage] = []
    for ref, fid in zip(refs, ids):
        if fid is None:
            report.skipped.append({"target": f"{ref.day.isoformat()}/{ref.name}", "reason": "not in the library"})
            continue
        loc = locations.get(fid)
        if loc is None:
            continue
        try:
            data = inline_jpeg(paths, settings, loc, max_px)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            reason = "its source is offline" if not loc.online else f"cannot decode: {exc}"
            report.skipped.append({"file_id": fid, "reason": reason})
            log.warning("journal export: %s: %s", os.fsdecode(loc.path), reason)
            continue
        cid = f"photo{fid}.{token}@gallerfs"
        stem = os.path.splitext(_shown(os.fsdecode(loc.name)))[0]
        images.append(InlineImage(cid, f"{stem}.jpg", data))
        by_ref[ref] = cid
        report.images.append({"file_id": fid, "name": _shown(os.fsdecode(loc.name)), "bytes": len(data)})

    cids: dict[str, str] = {}
    html_body = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    for m in re.finditer(r"""\b(?:src|href)\s*=\s*("[^"]*"|'[^']*')""", html_body):
        target = html.unescape(m.group(1)[1:-1])
        ref = parse_photo_target(target)
        if ref is not None and ref in by_ref:
            cids[target] = by_ref[ref]
    msg = build_message(
        subject=subject, text=replace_photo_links(body, lambda ref, _: f"[photo: {_shown(ref.name)}]").lstrip("\n"),
        body_html=rewrite_html(html_body, cids), images=images,
        from_addr=from_addr or default_from(), to_addr=to_addr,
    )  # fmt: skip
    data = msg.as_bytes()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.gallerfs-tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as exc:
        raise GallerfsError(f"cannot write {out}: {exc.strerror}") from None
    return report
