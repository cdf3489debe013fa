"""The OCR signal: photos whose text (found by the ``ocr`` job) contains the query's words.

Two ways to use it:

- in the fused search (``gallerfs search "receipt from the hardware store"``): any of the query's
  words (stopwords left out), scored by the fraction of them the photo's text holds, ordered within
  that by BM25, and weighted so that a photo holding every word outranks one that only looks like
  the description to CLIP;
- alone (``gallerfs search --text "boarding pass"``): every word (and "quoted phrase") must be in
  the photo, ranked by BM25, the best scoring 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from gallerfs.db import ocr as ocr_db
from gallerfs.db.connection import Database
from gallerfs.search.filters import Scope
from gallerfs.search.registry import Query
from gallerfs.search.textquery import TextQuery, parse

WEIGHT = 0.5  # a full match adds 0.5; CLIP similarities of good matches are about 0.25-0.35
PAGE = 512  # matches read per FTS5 query while filters drop some
ANY_CANDIDATES = 8  # the fused search scores this many times k matches by word coverage


@dataclass(frozen=True)
class TextSignal:
    query: TextQuery
    every: bool = False  # every word required (--text), or any of them (the fused search)
    name: str = "ocr"
    weight: float = WEIGHT

    def scores(self, db: Database, scope: Scope, k: int) -> dict[int, float]:
        if self.query.empty or k <= 0:
            return {}
        want = k if self.every else max(k * ANY_CANDIDATES, PAGE)
        expression = self.query.expression(every=self.every)
        found: list[tuple[int, float, str]] = []
        offset = 0
        while len(found) < want:
            page = ocr_db.match(db, expression, PAGE, offset)
            offset += len(page)
            kept = scope.keep(db, [i for i, _, _ in page])
            found.extend(row for row in page if row[0] in kept)
            if len(page) < PAGE:
                break
        found = found[:want]
        if not found:
            return {}
        best = min(rank for _, rank, _ in found)  # bm25 is negative, lower is better
        relative = {i: (rank / best if best < 0 else 1.0) for i, rank, _ in found}
        if self.every:
            return relative
        scored = {i: self.query.coverage(text) * (0.9 + 0.1 * relative[i]) for i, _, text in found}
        return dict(sorted(((i, s) for i, s in scored.items() if s > 0), key=lambda kv: -kv[1])[:k])


def make(query: Query) -> TextSignal | None:
    """The fused search's OCR signal; None when no photo has text in it yet."""
    if not ocr_db.has_text(query.db):
        return None
    parsed = parse(query.text, drop_stopwords=True)
    return None if parsed.empty else TextSignal(parsed)


def text_only(text: str) -> TextSignal:
    """``--text``: every word and phrase required."""
    return TextSignal(parse(text), every=True, weight=1.0)
