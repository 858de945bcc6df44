"""Vietnamese text as every layer compares it: cleaned, and folded without diacritics."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import chain

# Characters that carry meaning but are not letters or digits become spaces; "%" survives as a word.
_NON_WORD = re.compile(r"(?:[^\w%]|_)+", re.UNICODE)
# "5tr", "1tr8", "500k", "30kwh": split digits from letters so amounts read as words.
_DIGIT_ALPHA = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)", re.UNICODE)
# "500k", "500 k": thousands, not the teen-code "k" (không).
_THOUSANDS = re.compile(r"(?<=\d) ?k\b")

_FOLD_EXTRA = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "ø": "o", "æ": "ae", "ß": "ss"})


def clean(text: str) -> str:
    """Lowercase NFC text with punctuation turned into single spaces and digits split from letters."""
    return " ".join(words_of(text))


def words_of(text: str) -> list[str]:
    """The words of clean(text): whitespace-separated chunks, each cleaned once and remembered."""
    return list(
        chain.from_iterable(map(_chunk_words, unicodedata.normalize("NFC", text).lower().split()))
    )


@lru_cache(maxsize=131072)
def _chunk_words(chunk: str) -> tuple[str, ...]:
    """The words of one whitespace-free chunk of lowercase text ("nghèo," → nghèo; "5tr" → 5 tr)."""
    if chunk.isalpha():
        return (chunk,)
    words = _NON_WORD.sub(" ", chunk).split()
    if any(not w.isalpha() for w in words):
        return tuple(" ".join(w if w.isalpha() else _split_number(w) for w in words).split())
    return tuple(words)


def _split_number(word: str) -> str:
    """Split digits from letters ("5tr" → "5 tr") and read "500k" as thousands."""
    return _THOUSANDS.sub(" nghìn", _DIGIT_ALPHA.sub(" ", word))


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """One word without diacritics, ascii only (đ becomes d; other non-ascii letters are dropped)."""
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word.translate(_FOLD_EXTRA))
    return "".join(ch for ch in decomposed if ch.isascii())


def fold(text: str) -> str:
    """Cleaned text without diacritics: ascii only, one space between words."""
    return " ".join(w for w in (fold_word(w) for w in clean(text).split()) if w)


def has_marks(text: str) -> bool:
    """Whether the text carries Vietnamese diacritics (so its accents can be trusted)."""
    return any(not ch.isascii() and ch.isalpha() for ch in text)


def _fold_char(ch: str) -> str:
    if ch in "đĐ":
        return "d"
    return unicodedata.normalize("NFD", ch)[0].lower()[:1] or ch


def fold_chars(text: str) -> str:
    """Lowercase without diacritics, one character per character so spans map back to the text."""
    return "".join(_fold_char(ch) for ch in text)
