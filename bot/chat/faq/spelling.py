"""Typo correction against the corpus's own words: one slip of the finger, typed without accents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.text import fold_word

# Shorter words have too many neighbours one edit away to guess which one was meant.
MIN_LENGTH = 4


def _deletes(word: str) -> set[str]:
    """The word with one letter left out, every way."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Whether b is a one-letter insertion, deletion, substitution or adjacent swap away from a."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la < lb:
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    # "nghoe" for "ngheo": two neighbours swapped
    return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]


class Speller:
    """Corrects unknown folded words to the corpus word one edit away that most entries use."""

    def __init__(self, words: Mapping[str, int], accented: Iterable[tuple[str, int]] = ()) -> None:
        """words: folded corpus words and how many entries hold each; accented: the same, accented."""
        self._df = dict(words)
        self._by_delete: dict[str, list[str]] = {}
        for w in self._df:
            if len(w) >= MIN_LENGTH - 1 and w.isalpha():
                for d in _deletes(w):
                    self._by_delete.setdefault(d, []).append(w)
        # The accented spelling most entries use for each folded word, to mend the accented view too.
        best: dict[str, tuple[int, str]] = {}
        for word, df in accented:
            f = fold_word(word)
            if df > best.get(f, (0, ""))[0]:
                best[f] = (df, word)
        self._accented = {f: w for f, (_, w) in best.items()}

    def known(self, word: str) -> bool:
        """Whether the corpus uses the word."""
        return word in self._df

    def correct(self, word: str) -> str | None:
        """The corpus word meant by an unknown ascii word, or None when unsure or not needed."""
        if word in self._df or len(word) < MIN_LENGTH or not word.isascii() or not word.isalpha():
            return None
        found: set[str] = set(self._by_delete.get(word, ()))  # a letter left out
        for d in _deletes(word):
            if d in self._df:
                found.add(d)  # a letter too many
            found.update(self._by_delete.get(d, ()))  # a letter wrong, or two swapped
        found = {w for w in found if within_one_edit(word, w)}
        if not found:
            return None
        ranked = sorted(found, key=lambda w: (-self._df[w], w))
        if len(ranked) > 1 and self._df[ranked[1]] * 2 > self._df[ranked[0]]:
            return None  # two plausible corrections: guessing would mislead
        return ranked[0]

    def accented(self, folded: str) -> str:
        """The accented spelling the corpus uses most for a folded word."""
        return self._accented.get(folded, folded)
