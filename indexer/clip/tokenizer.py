"""CLIP's byte-pair-encoding tokenizer, without torch.

Same behaviour as OpenAI's ``clip.tokenize`` (and open_clip's ``SimpleTokenizer``
with the default 'lower' clean-up): ftfy + double HTML unescape, whitespace
collapsed, lower-cased, split by CLIP's regex, byte-level BPE over the 49,152
merges of ``bpe_simple_vocab_16e6.txt.gz`` (vendored in ``models/`` with its MIT
licence), wrapped in start 49406 / end 49407 and zero-padded to 77 tokens.
Text longer than the context is cut and still ends with the end token.
"""

from __future__ import annotations

import functools
import gzip
import html
import logging
from importlib import resources
from pathlib import Path
from typing import Iterable

import ftfy
import numpy as np
import regex

log = logging.getLogger(__name__)

CONTEXT_LENGTH = 77
SOT = "<start_of_text>"
EOT = "<end_of_text>"
_MERGES = 49152 - 256 - 2  # merges used by CLIP; the file holds a header line and more lines
_PATTERN = regex.compile(
    SOT + "|" + EOT + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def vocab_path() -> Path:
    return Path(str(resources.files("gallerfs.models").joinpath("bpe_simple_vocab_16e6.txt.gz")))


@functools.lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    """Reversible map from bytes to printable unicode characters, as in GPT-2/CLIP."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def clean(text: str) -> str:
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return " ".join(text.split()).lower()


class Tokenizer:
    def __init__(self, path: Path | None = None) -> None:
        with gzip.open(path or vocab_path(), "rt", encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _MERGES + 1]]
        symbols = list(_bytes_to_unicode().values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {token: i for i, token in enumerate(vocab)}
        self.bpe_ranks = {pair: i for i, pair in enumerate(merges)}
        self.byte_encoder = _bytes_to_unicode()
        self.sot_id = self.encoder[SOT]
        self.eot_id = self.encoder[EOT]
        self._cache: dict[str, str] = {SOT: SOT, EOT: EOT}

    def _bpe(self, token: str) -> str:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, 1 << 30))
            if best not in self.bpe_ranks:
                break
            first, second = best
            merged: list[str] = []
            i = 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = tuple(merged)
        result = " ".join(word)
        if len(self._cache) < 100_000:
            self._cache[token] = result
        return result

    def encode(self, text: str) -> list[int]:
        """BPE ids of the text, without start/end tokens."""
        ids: list[int] = []
        for piece in _PATTERN.findall(clean(text)):
            piece = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(piece).split(" "))
        return ids

    def tokenize(self, texts: str | Iterable[str], context_length: int = CONTEXT_LENGTH) -> np.ndarray:
        """Token ids [N, context_length] (int64), zero padded, as ``clip.tokenize(truncate=True)``."""
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        out = np.zeros((len(texts), context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.sot_id, *self.encode(text), self.eot_id]
            if len(ids) > context_length:
                ids = ids[:context_length]
                ids[-1] = self.eot_id
            out[row, : len(ids)] = ids
        return out


@functools.lru_cache(maxsize=1)
def default_tokenizer() -> Tokenizer:
    return Tokenizer()
