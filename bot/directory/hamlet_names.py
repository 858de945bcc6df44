"""Hamlets as people type them: one spelling rule for the chat, the command line and the importer."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.directory.models import Hamlet
from bot.text import fold

# Words a hamlet's name may start with: "Ấp Tân Lợi", "Tân Lợi" and "tan loi" name the same hamlet.
HAMLET_WORDS = ("to dan pho", "khu pho", "ap", "thon", "ban", "xom", "to")
_DIGITS = re.compile(r"\d+")


def name_key(text: str) -> str:
    """A typed name folded for comparison: no diacritics, one space, "03" read as "3"."""
    return _DIGITS.sub(lambda m: str(int(m.group())), fold(text))


def bare_key(key: str) -> str:
    """A name key without its leading hamlet word ("ap tan loi" -> "tan loi"; "ap 3" -> "3")."""
    for word in HAMLET_WORDS:
        if key.startswith(word + " ") and len(key) > len(word) + 1:
            return key[len(word) + 1 :]
    return key


class HamletNames:
    """Finds a commune's hamlets by a typed name, with or without diacritics and its Ấp/Thôn word."""

    def __init__(self, hamlets: Iterable[Hamlet]) -> None:
        self._hamlets = list(hamlets)
        self._full: dict[str, list[Hamlet]] = {}
        self._bare: dict[str, list[Hamlet]] = {}
        for hamlet in self._hamlets:
            key = name_key(hamlet.name)
            self._full.setdefault(key, []).append(hamlet)
            self._bare.setdefault(bare_key(key), []).append(hamlet)

    def matches(self, typed: str) -> list[Hamlet]:
        """Every hamlet the name may mean: one when it is clear, several when it is ambiguous."""
        key = name_key(typed)
        if not key:
            return []
        for found in (self._full.get(key), self._bare.get(bare_key(key)), self._bare.get(key)):
            if found:
                return list(found)
        return []

    def find(self, typed: str) -> Hamlet | None:
        """The one hamlet the name means, or None (unknown, or it fits several)."""
        found = self.matches(typed)
        return found[0] if len(found) == 1 else None

    def ending(self, text: str) -> Hamlet | None:
        """The hamlet a sentence ends with ("em ở ấp Tân Lập"), when exactly one fits."""
        key = name_key(text)
        # Only the whole name, word included, ends a sentence: "có 3 con" is not "Ấp 3".
        found = [h for h in self._hamlets if key.endswith(" " + name_key(h.name))]
        return found[0] if len(found) == 1 else None


class UnknownHamlet(LookupError):
    """A typed hamlet name that fits none, or several, of the commune's hamlets (Vietnamese)."""


def hamlet_named(hamlets: list[Hamlet], name: str, hamlet_word: str) -> Hamlet:
    """The commune's hamlet a typed name means; UnknownHamlet names the choices when it is unclear."""
    found = HamletNames(hamlets).matches(name)
    if len(found) > 1:
        raise UnknownHamlet(
            f"Tên “{name}” khớp với nhiều {hamlet_word}: {', '.join(h.name for h in found)}."
        )
    if not found:
        raise UnknownHamlet(
            f"Không có {hamlet_word} “{name}”. Các {hamlet_word} của xã: "
            f"{', '.join(h.name for h in hamlets)}."
        )
    return found[0]
