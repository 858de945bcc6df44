"""Greetings, thanks and "ok"/"dạ": small talk the bot answers warmly instead of with an apology.

A message is small talk when, folded, it is nothing but such words and the people and particles
said with them ("chào em", "dạ cảm ơn ad nhiều nha", "ok ạ"). Anything more ("chào ad, cho hỏi
vay vốn") is a question and goes to the FAQ.
"""

from __future__ import annotations

from typing import Literal

from bot.text import fold

SmallTalk = Literal["greeting", "thanks", "ack"]

# Folded phrases, as residents type them: diacritics or not, Northern, Central or Southern.
_PHRASES: dict[tuple[str, ...], SmallTalk] = {
    **{
        tuple(p.split()): "greeting"
        for p in (
            "chao",
            "xin chao",
            "hi",
            "hii",
            "hello",
            "helo",
            "hey",
            "alo",
            "a lo",
            "he lo",
            "chao buoi sang",
            "chao buoi chieu",
            "chao buoi toi",
        )
    },
    **{
        tuple(p.split()): "thanks"
        for p in (
            "cam on",
            "cam o",
            "camon",
            "cmon",
            "cam un",  # typed fast or in teen code
            "thanks",
            "thank",
            "thank you",
            "thanks you",
            "thanh kiu",
            "tks",
            "thks",
            "tk",
        )
    },
    **{
        tuple(p.split()): "ack"
        for p in (
            "ok",
            "oke",
            "okie",
            "oki",
            "okay",
            "okela",
            "uk",
            "u",  # ừ
            "uh",
            "um",  # ừm
            "o",  # ờ
            "da",  # dạ
            "vang",  # vâng
            "duoc roi",
            "roi",
            "biet roi",
            "hieu roi",
            "ro roi",
        )
    },
}
# Who the message is said to, and particles that soften it: they do not make it a question.
_AROUND = frozenset(
    {"em", "ad", "admin", "anh", "chi", "co", "chu", "bac", "ong", "ba", "xa", "ubnd", "ban"}
    | {"moi", "nguoi", "ca", "nha", "a", "ah", "ak", "oi", "nhe", "nhen", "nghen", "hen", "ne"}
    | {"nhieu", "lam", "nhiu", "rat", "ha", "nhi", "vay", "z", "the", "luon", "qua"}
    | {"nhaa", "nhaaa"}
)
_LONGEST = max(len(p) for p in _PHRASES)
_MAX_WORDS = 10
# When a message holds more than one kind ("dạ cảm ơn"), the reply answers the most telling one.
_PRIORITY: tuple[SmallTalk, ...] = ("thanks", "greeting", "ack")


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk a message is, or None when it says or asks anything more."""
    words = fold(text).split()
    if not words or len(words) > _MAX_WORDS:
        return None
    found: set[SmallTalk] = set()
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST, len(words) - i), 0, -1):
            kind = _PHRASES.get(tuple(words[i : i + size]))
            if kind is not None:
                found.add(kind)
                i += size
                break
        else:
            if words[i] not in _AROUND:
                return None
            i += 1
    return next((k for k in _PRIORITY if k in found), None)
