"""A query for the text in photos: words and "quoted phrases", turned into an FTS5 expression.

Words are matched by prefix once they are 3 characters long ("board" finds "boarding"), phrases
word for word; case and accents never matter (the index is ``unicode61 remove_diacritics 2``, and
``normalise`` here does the same, so a match can be checked in Python too). FTS5's own syntax
(AND, NEAR, column filters, ``*``) is not exposed: every character a user types is either part of
a word or a separator, so no query is a syntax error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MIN_PREFIX = 3  # shorter words match whole words only ("a*" would match half the library)
_WORD = re.compile(r"[^\W_]+")
_PHRASE = re.compile(r'"([^"]*)"')
STOPWORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or that the this to was were with".split()
)


def normalise(text: str) -> list[str]:
    """The words of a text as the index sees them: lower case, accents removed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(plain)


@dataclass(frozen=True)
class Item:
    words: tuple[str, ...]
    phrase: bool  # the words in this order, exactly

    def fts(self) -> str:
        if self.phrase:
            return '"' + " ".join(self.words) + '"'
        word = self.words[0]
        return f'"{word}"*' if len(word) >= MIN_PREFIX else f'"{word}"'

    def found_in(self, doc: list[str]) -> bool:
        if not self.phrase:
            word = self.words[0]
            if len(word) >= MIN_PREFIX:
                return any(token.startswith(word) for token in doc)
            return word in doc
        n = len(self.words)
        return any(tuple(doc[i : i + n]) == self.words for i in range(len(doc) - n + 1))


@dataclass(frozen=True)
class TextQuery:
    items: tuple[Item, ...]

    @property
    def empty(self) -> bool:
        return not self.items

    def expression(self, *, every: bool) -> str:
        """The FTS5 MATCH expression: every item required (``every``) or any of them."""
        return (" AND " if every else " OR ").join(item.fts() for item in self.items)

    def coverage(self, text: str) -> float:
        """The fraction of the query's items found in a text."""
        if not self.items:
            return 0.0
        doc = normalise(text)
        return sum(1 for item in self.items if item.found_in(doc)) / len(self.items)


def parse(text: str, *, drop_stopwords: bool = False) -> TextQuery:
    """Words and "quoted phrases"; ``drop_stopwords`` leaves out "the", "from"... (for descriptions
    like "receipt from the hardware store") unless nothing else is left."""
    items: list[Item] = []
    rest = []
    position = 0
    for m in _PHRASE.finditer(text):
        rest.append(text[position : m.start()])
        words = tuple(normalise(m.group(1)))
        if len(words) > 1:
            items.append(Item(words, True))
        elif words:
            rest.append(" " + words[0] + " ")
        position = m.end()
    rest.append(text[position:])
    loose = normalise(" ".join(rest).replace('"', " "))
    if drop_stopwords and any(w not in STOPWORDS for w in loose):
        loose = [w for w in loose if w not in STOPWORDS]
    seen: set[tuple[str, ...]] = set()
    singles = []
    for w in loose:
        if (w,) not in seen:
            seen.add((w,))
            singles.append(Item((w,), False))
    unique_phrases = list(dict.fromkeys(items))
    return TextQuery(tuple(unique_phrases + singles))
