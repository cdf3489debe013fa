"""A journal entry's markdown as HTML the viewer can show: no raw HTML, no remote images.

Python-Markdown renders the body with its raw-HTML handling taken out, so ``<script>`` or
``<img onerror=…>`` in an entry come out as text; the result then goes through an allow-list of
tags and attributes. Links and images are rewritten by the caller's ``local`` function (a photo
link becomes that photo's thumbnail and page, a link to another entry its page); remote links are
kept (``http``, ``https``, ``mailto``), remote images become their alt text (the viewer's CSP would
block them anyway), and any other target (``javascript:``, ``file:``, a relative path that names
nothing) is reduced to its text. Wikilinks (``[[…]]``, ``![[…|alias]]``) are understood too.
Pure functions.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

import markdown

# (href, image src or None) for a link target that names something of the library, else None.
LocalLink = Callable[[str], "tuple[str, str | None] | None"]

ALLOWED = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "blockquote", "pre", "code", "em", "strong",
    "del", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "a", "img", "dl", "dt", "dd", "sup", "sub",
}  # fmt: skip
VOID = {"br", "hr", "img"}
ATTRS = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}
REMOTE = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
_WIKI = re.compile(r"(!?)\[\[([^\]\n|]+)(?:\|([^\]\n]*))?\]\]")


def _wikilinks(text: str) -> str:
    """``[[target|alias]]`` and ``![[target]]`` as markdown links, so they render and get rewritten."""

    def one(m: re.Match[str]) -> str:
        target = m.group(2).split("#", 1)[0].strip()
        label = (m.group(3) or m.group(2)).strip()
        label = re.sub(r"([\[\]\\])", r"\\\1", label)
        return f"{m.group(1)}[{label}](<{target}>)" if target else m.group(0)

    return _WIKI.sub(one, text)


def _markdown() -> markdown.Markdown:
    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")  # raw HTML blocks stay text
    md.inlinePatterns.deregister("html")  # and so do inline tags
    return md


class _Sanitiser(HTMLParser):
    def __init__(self, local: LocalLink) -> None:
        super().__init__(convert_charrefs=True)
        self.local = local
        self.out: list[str] = []
        self.open: list[str | None] = []  # per open tag: its name when kept, None when dropped
        self.links = 0  # <a> open around the current position

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> dict[str, str]:
        allowed = ATTRS.get(tag, set())
        return {k: v for k, v in attrs if k in allowed and v is not None}

    @staticmethod
    def _tag(tag: str, attrs: dict[str, str]) -> str:
        inner = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in attrs.items())
        return f"<{tag}{inner}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED:
            if tag not in VOID:
                self.open.append(None)
            return
        kept = self._attrs(tag, attrs)
        if tag == "img":
            self._image(kept)
            return
        if tag == "a":
            href = kept.pop("href", "")
            found = self.local(href) if href else None
            if found is not None:
                kept["href"] = found[0]
            elif REMOTE.match(href) or href.startswith("#"):
                kept["href"] = href
                kept["rel"] = "noopener noreferrer"
            else:
                self.open.append(None)  # a link to nowhere the viewer can go: keep its text only
                return
            self.links += 1
        if tag not in VOID:
            self.open.append(tag)
        self.out.append(self._tag(tag, kept))

    def _image(self, attrs: dict[str, str]) -> None:
        src, alt = attrs.get("src", ""), attrs.get("alt", "")
        found = self.local(src) if src else None
        if found is None or found[1] is None:
            if found is not None and not self.links:  # a library file without a picture (a video, a RAW file)
                self.out.append(f'<a href="{html.escape(found[0], quote=True)}">{html.escape(alt or src)}</a>')
            else:
                self.out.append(f'<span class="img-alt">[{html.escape(alt or "image")}]</span>')
            return
        img = self._tag("img", {"src": found[1], "alt": alt, "class": "entry-photo", "loading": "lazy"})
        if self.links:
            self.out.append(img)
        else:
            self.out.append(f'<a class="entry-photo-link" href="{html.escape(found[0], quote=True)}">{img}</a>')

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open:
            return
        kept = self.open.pop()
        if kept is not None:
            if kept == "a":
                self.links -= 1
            self.out.append(f"</{kept}>")

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def close(self) -> None:
        super().close()
        while self.open:
            kept = self.open.pop()
            if kept is not None:
                self.out.append(f"</{kept}>")


def sanitise(body_html: str, local: LocalLink) -> str:
    parser = _Sanitiser(local)
    parser.feed(body_html)
    parser.close()
    return "".join(parser.out)


def render(body: str, local: LocalLink) -> str:
    """An entry's body (front matter already split off) as safe HTML."""
    return sanitise(_markdown().convert(_wikilinks(body)), local)
