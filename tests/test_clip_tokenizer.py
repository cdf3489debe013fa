"""CLIP tokenizer: ids checked against references produced by OpenAI/open_clip's tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from gallerfs.indexer.clip.tokenizer import CONTEXT_LENGTH, Tokenizer, clean, default_tokenizer

# Produced with open_clip 3.3.0's SimpleTokenizer (same merges file) and, for the first
# four, the examples of OpenAI's CLIP README.
REFERENCES = {
    "a photo of a cat": [320, 1125, 539, 320, 2368],
    "a diagram": [320, 22697],
    "a dog": [320, 1929],
    "Hello,   World!": [3306, 267, 1002, 256],
    "A RED car on the beach at sunset": [320, 736, 1615, 525, 518, 2117, 536, 3424],
    "photos from 2023 in München": [2479, 633, 273, 271, 273, 274, 530, 41235, 8983],
    "it's a dog's life &amp; we're <3 ok": [585, 568, 320, 1929, 568, 970, 261, 649, 982, 283, 274, 2481],
    "🐶 emoji": [10631, 16327],
}


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return default_tokenizer()


def test_vocab_size_and_special_tokens(tok: Tokenizer) -> None:
    assert len(tok.encoder) == 49408
    assert (tok.sot_id, tok.eot_id) == (49406, 49407)


def test_a_photo_of_a_cat(tok: Tokenizer) -> None:
    ids = tok.tokenize("a photo of a cat")
    assert ids.shape == (1, CONTEXT_LENGTH)
    assert ids.dtype == np.int64
    assert ids[0, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert not ids[0, 7:].any()


@pytest.mark.parametrize("text,expected", list(REFERENCES.items()))
def test_reference_ids(tok: Tokenizer, text: str, expected: list[int]) -> None:
    assert tok.encode(text) == expected


def test_batch_rows_are_independent(tok: Tokenizer) -> None:
    ids = tok.tokenize(["a dog", "a photo of a cat"])
    assert ids[0, :4].tolist() == [49406, 320, 1929, 49407]
    assert ids[1, :7].tolist() == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_long_text_is_cut_and_still_ends_with_eot(tok: Tokenizer) -> None:
    ids = tok.tokenize("dog " * 200)[0]
    assert ids[0] == 49406 and ids[-1] == 49407
    assert (ids[1:-1] == 1929).all()


def test_clean_lowercases_fixes_mojibake_and_unescapes() -> None:
    assert clean("  Caf\u00c3\u00a9  &amp;amp;  BAR ") == "café & bar"
    assert Tokenizer().encode("CAT") == Tokenizer().encode("cat")


def test_empty_and_whitespace_only(tok: Tokenizer) -> None:
    for text in ("", "   \n\t"):
        ids = tok.tokenize(text)[0]
        assert ids[:2].tolist() == [49406, 49407] and not ids[2:].any()
