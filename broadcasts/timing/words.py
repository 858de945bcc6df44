"""How officials type times of day and days of the week, read from folded text."""

from __future__ import annotations

import re
from datetime import time

from bot.text import fold_chars


class TypedText:
    """The official's text, folded, with the parts already understood blanked out."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.work = fold_chars(text)

    def take(self, pattern: re.Pattern[str]) -> list[re.Match[str]]:
        found = list(pattern.finditer(self.work))
        for m in found:
            self.blank(m.start(), m.end())
        return found

    def blank(self, start: int, end: int) -> None:
        self.work = self.work[:start] + " " * (end - start) + self.work[end:]

    def quote(self, m: re.Match[str]) -> str:
        return self.original[m.start() : m.end()].strip()

    def leftovers(self, fillers: frozenset[str]) -> list[str]:
        """Runs of words nobody understood, quoted as the official typed them."""
        runs: list[tuple[int, int]] = []
        for m in re.finditer(r"[^\W_]+", self.work):
            if m.group() in fillers:
                continue
            if runs and not self.work[runs[-1][1] : m.start()].strip(" ,.;-/"):
                runs[-1] = (runs[-1][0], m.end())
            else:
                runs.append((m.start(), m.end()))
        return [self.original[a:b] for a, b in runs]


_TIME_COLON = re.compile(r"\b(?P<h>\d{1,2})\s*:\s*(?P<m>\d{2})(?![\d:])")
_TIME_WORD = re.compile(
    r"\b(?P<h>\d{1,2})\s*(?:gio|h|g)"
    r"(?:\s*(?P<m>\d{1,2})(?:\s*(?:phut|p)\b)?|\s*(?P<half>ruoi)\b)?(?![a-z0-9])"
)
_TIME_AMPM = re.compile(r"\b(?P<h>\d{1,2})\s*(?P<ampm>am|pm)\b")
_TIME_BARE = re.compile(r"\bluc\s+(?P<h>\d{1,2})(?![\d:a-z])")
_PART_OF_DAY = re.compile(r"\b(?:sang|trua|chieu|toi|dem)\b")


def take_time(txt: TypedText, problems: list[str]) -> time | None:
    """The one time of day in the text (19h30, 19:30, 7 giờ sáng, 8h, 7 giờ rưỡi, 8pm, lúc 8)."""
    found: list[tuple[re.Match[str], int, int, str]] = []
    for pattern in (_TIME_COLON, _TIME_WORD, _TIME_AMPM, _TIME_BARE):
        for m in txt.take(pattern):
            groups = m.groupdict()
            minute = 30 if groups.get("half") else int(groups.get("m") or 0)
            found.append((m, int(m.group("h")), minute, groups.get("ampm") or ""))
    parts = [m.group() for m in txt.take(_PART_OF_DAY)]
    if not found:
        return None
    found.sort(key=lambda item: item[0].start())
    if len(found) > 1:
        shown = " và ".join(f"“{txt.quote(m)}”" for m, *_ in found)
        problems.append(
            f"Có nhiều giờ gửi ({shown}). Mỗi lịch chỉ ghi một giờ; "
            "muốn gửi nhiều lần trong ngày thì tạo thêm đợt thông báo."
        )
        return None
    m, hour, minute, ampm = found[0]
    if hour > 23 or minute > 59:
        problems.append(f"Giờ “{txt.quote(m)}” không đúng: giờ từ 0 đến 23, phút từ 0 đến 59.")
        return None
    part = ampm or (parts[0] if parts else "")
    if (
        (part in ("chieu", "pm", "toi") and 1 <= hour <= 11)
        or (part == "trua" and 1 <= hour <= 5)
        or (part == "dem" and 7 <= hour <= 11)
    ):
        hour += 12
    elif part in ("am", "dem") and hour == 12:
        hour = 0
    return time(hour, minute)


DAY_WORD = r"(?:thu\s*(?:hai|ba|tu|nam|sau|bay|[2-7])|t[2-7]|chu\s*nh[au]t|cn)"
DAY_RANGE = re.compile(
    rf"(?:\btu\s+)?\b(?P<a>{DAY_WORD})\s*(?:\bden\b|\btoi\b|-)\s*(?P<b>{DAY_WORD})\b"
)
DAY_ITEM = r"(?:hai|ba|tu|nam|sau|bay|[2-7])"
DAY_LIST = re.compile(rf"\bthu\s*(?P<list>{DAY_ITEM}(?:\s*(?:,|-|/|\bva\b)\s*{DAY_ITEM}\b)+)")
DAY_ONE = re.compile(rf"\b{DAY_WORD}\b")
_DAY_NAMES = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}


def weekday_of(token: str) -> int:
    token = re.sub(r"\s+", "", token)
    if token in ("cn", "chunhat", "chunhut"):
        return 6
    if token.startswith("t") and token[-1].isdigit():
        return int(token[-1]) - 2
    return _DAY_NAMES[token.removeprefix("thu")]
