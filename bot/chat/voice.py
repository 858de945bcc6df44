"""The bot's one voice in FAQ text: the commune's own hamlet word, and "bà con" as the address.

The corpus is written once for every commune: it says "thôn" where a southern commune says "ấp",
and "anh chị" in some answers where every reply of the bot says "bà con". Answers are put in the
commune's words as they are sent, so one corpus serves ấp, thôn, bản and tổ dân phố alike.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.directory.roles import head_title

# "trưởng thôn", "trưởng ấp", "trưởng bản": the head, in the commune's word. "Tổ trưởng tổ dân
# phố" is left: the corpus says it only in answers about towns, where it is the right word.
_HEAD = re.compile(r"\b[Tt]rưởng (?:thôn|ấp|bản)\b")
# The hamlet itself: "thôn, bản", "thôn/ấp", "ấp", and "thôn" but never "nông thôn" (the country).
# "bản" alone is left: it is also "văn bản", "cơ bản", "bản sao".
_HAMLET = re.compile(
    r"\b(?:[Tt]hôn(?:, | hoặc |/)(?:bản|ấp)|[Ấấ]p(?:, | hoặc |/)(?:thôn|bản)"
    r"|(?<!nông )(?<!Nông )[Tt]hôn|[Ấấ]p)\b"
)
# Alternatives the corpus lists for every commune: "trưởng thôn (ấp, bản, tổ trưởng tổ dân phố)",
# "từng thôn, tổ dân phố". A commune has one word: the aside goes, the list becomes that word.
_WORDS = r"(?:thôn|ấp|bản|tổ dân phố|tổ trưởng tổ dân phố|trưởng (?:thôn|ấp|bản))"
_ASIDE = re.compile(rf"\s*\({_WORDS}(?:, {_WORDS})*\)")
_LIST = re.compile(
    r"\b(?:[Tt]hôn|[Ấấ]p|[Bb]ản|[Tt]ổ dân phố)(?:(?:, | hoặc |/)(?:thôn|ấp|bản|tổ dân phố))+\b"
)
# The corpus's other address forms; "ông bà" is left, it also means grandparents, and "anh chị em"
# means siblings.
_ADDRESS = re.compile(r"\b([Aa])nh(?: |/)chị\b(?! em)")


def _same_case(word: str, like: str) -> str:
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


@lru_cache(maxsize=4096)
def in_commune_voice(text: str, hamlet_word: str) -> str:
    """`text` with the commune's hamlet word and head title, addressing residents as "bà con"."""
    head = head_title(hamlet_word)
    text = _ASIDE.sub("", text)
    text = _LIST.sub(lambda m: _same_case(hamlet_word, m.group(0)), text)
    text = _HEAD.sub(lambda m: _same_case(head, m.group(0)), text)
    text = _HAMLET.sub(lambda m: _same_case(hamlet_word, m.group(0)), text)
    return _ADDRESS.sub(lambda m: "Bà con" if m.group(1) == "A" else "bà con", text)
