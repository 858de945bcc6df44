"""One date and time typed by an official ("20/12 19h30", "mai 7h"), read as aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from bot.text import fold_chars
from broadcasts.timing.local import VN_TZ, WEEKDAY_NAMES, TimingError, aware, dmy, utc_at
from broadcasts.timing.words import DAY_ONE, TypedText, take_time, weekday_of

_NOW_WORDS = frozenset(
    {"bay gio", "ngay bay gio", "gui ngay", "gui luon", "ngay lap tuc", "gui ngay lap tuc"}
)
_DATE_NUMERIC = re.compile(
    r"\b(?P<d>\d{1,2})\s*[/.\-]\s*(?P<m>\d{1,2})(?:\s*[/.\-]\s*(?P<y>\d{4}|\d{2}))?(?![\d/.\-])"
)
_DATE_WORDS = re.compile(
    r"\b(?:ngay\s+|mung\s+|mong\s+)?(?P<d>\d{1,2})\s+thang\s+(?P<m>\d{1,2})(?:\s+(?:nam\s+)?(?P<y>\d{4}))?\b"
)
_RELATIVE: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"\b(?:hom|bua|ngay)\s+nay\b|\bnay\b"), 0),
    (re.compile(r"\b(?:ngay\s+)?mai\b"), 1),
    (re.compile(r"\bngay\s+kia\b|\b(?:ngay\s+)?mot\b"), 2),
)
# "thứ Sáu tuần sau": the week from the coming Monday ("tuần tới" too); "tuần này": this one.
_WEEK = re.compile(r"\btuan\s+(?P<w>sau|toi|nay)\b")
_DATETIME_FILLERS = frozenset(["luc", "vao", "ngay", "gui", "nam", "thang", "tuan", "nay"])


def _pick_year(day: int, month: int, year: str | None, today: date) -> date:
    """The date typed; without a year, the one nearest today ("5/1" typed in December is next January)."""
    if year:
        return date(2000 + int(year) if len(year) == 2 else int(year), month, day)
    candidates: list[date] = []
    for y in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(y, month, day))
        except ValueError:
            continue
    if not candidates:
        raise ValueError(f"no such day {day}/{month}")
    return min(candidates, key=lambda c: (abs((c - today).days), c < today))


def parse_local_datetime(text: str, now: datetime) -> datetime:
    """A date and time an official typed ("20/12 19h30", "mai 7h", "thứ Sáu tuần sau 8h"), in UTC."""
    now = aware(now, "now").astimezone(UTC)
    today = now.astimezone(VN_TZ).date()
    folded = " ".join(fold_chars(text or "").split())
    if not folded:
        raise TimingError("Chưa nhập giờ gửi. Ví dụ: “20/12 19h30”, “hôm nay 14h”, “mai 7h”.")
    if folded in _NOW_WORDS:
        return now
    problems: list[str] = []
    txt = TypedText(text)
    # Before the time: the "tới" of "tuần tới" is not the evening's "tối".
    weeks = [(0 if m.group("w") == "nay" else 1, txt.quote(m)) for m in txt.take(_WEEK)]
    at = take_time(txt, problems)

    days: list[tuple[date | None, str]] = []  # (date, as typed) for each date-like piece
    for pattern in (_DATE_NUMERIC, _DATE_WORDS):
        for m in txt.take(pattern):
            d, mo, y = int(m.group("d")), int(m.group("m")), m.group("y")
            try:
                day = _pick_year(d, mo, y, today)
            except ValueError:
                if (d, mo) == (29, 2):
                    problems.append(
                        "Ngày 29/2 chỉ có trong năm nhuận; xin ghi cả năm, ví dụ “29/2/2028 8h”."
                    )
                else:
                    problems.append(f"Ngày “{txt.quote(m)}” không có thật.")
                days.append((None, txt.quote(m)))
                continue
            days.append((day, txt.quote(m)))
    for pattern, offset in _RELATIVE:
        for m in txt.take(pattern):
            days.append((today + timedelta(days=offset), txt.quote(m)))
    weekdays = [(weekday_of(m.group()), txt.quote(m)) for m in txt.take(DAY_ONE)]
    for left in txt.leftovers(_DATETIME_FILLERS):
        problems.append(f"Không hiểu “{left}”.")

    week: tuple[date, str] | None = None  # its Monday, and the words typed
    if len(weeks) > 1:
        shown = " và ".join(f"“{typed}”" for _, typed in weeks)
        problems.append(f"Có nhiều tuần ({shown}); xin ghi một ngày gửi.")
    elif weeks:
        ahead, typed = weeks[0]
        week = (today + timedelta(days=7 * ahead - today.weekday()), typed)

    chosen: date | None = None
    if len(days) > 1:
        shown = " và ".join(f"“{typed}”" for _, typed in days)
        problems.append(f"Có nhiều ngày ({shown}); xin ghi một ngày gửi.")
    elif days:
        chosen = days[0][0]
    if len(weekdays) > 1:
        problems.append("Có nhiều thứ trong tuần; xin ghi một ngày gửi.")
    elif weekdays:
        wd, typed = weekdays[0]
        if chosen is not None and chosen.weekday() != wd:
            problems.append(
                f"Ngày {dmy(chosen)} là {WEEKDAY_NAMES[chosen.weekday()]}, không phải “{typed}”."
            )
        elif chosen is None and not days and week is not None:
            chosen = week[0] + timedelta(days=wd)
        elif chosen is None and not days:
            chosen = today + timedelta(days=(wd - today.weekday()) % 7)
            if at is not None and utc_at(chosen, at) <= now:
                chosen += timedelta(days=7)
    if week is not None and not weekdays and not days:
        problems.append(
            f"“{week[1]}” là thứ mấy? Xin ghi thêm thứ, ví dụ “thứ Sáu {week[1]} 19h30”."
        )
    elif week is not None and chosen is not None:
        monday, typed = week
        if not monday <= chosen < monday + timedelta(days=7):
            problems.append(
                f"Ngày {dmy(chosen)} không thuộc “{typed}” "
                f"(từ {dmy(monday)} đến {dmy(monday + timedelta(days=6))})."
            )
    if chosen is None and not days and not weekdays:
        chosen = today
    if at is None and not any(p.startswith(("Có nhiều giờ", "Giờ “")) for p in problems):
        problems.append("Chưa có giờ gửi. Xin ghi thêm giờ, ví dụ “20/12 19h30” hoặc “mai 7h”.")
    if problems or at is None or chosen is None:
        raise TimingError(
            problems or ["Không đọc được ngày giờ gửi. Ví dụ: “20/12 19h30”, “mai 7h”."]
        )
    return utc_at(chosen, at)


def event_day(text: str, around: date) -> tuple[date | None, list[str]]:
    """The day named in a value such as "thứ Sáu 18/12" (the year nearest `around`) and its problems.

    None with no problem when the text names no calendar day ("tối mai", "cuối tháng"): only a
    day written out can be checked against the send time and its weekday."""
    txt = TypedText(text)
    days: list[tuple[re.Match[str], date | None]] = []
    for pattern in (_DATE_NUMERIC, _DATE_WORDS):
        for m in txt.take(pattern):
            try:
                picked: date | None = _pick_year(
                    int(m.group("d")), int(m.group("m")), m.group("y"), around
                )
            except ValueError:
                picked = None
            days.append((m, picked))
    if len(days) != 1:
        return None, []
    m, day = days[0]
    if day is None:
        return None, [f"Ngày “{txt.quote(m)}” không có thật."]
    weekdays = [(weekday_of(w.group()), txt.quote(w)) for w in txt.take(DAY_ONE)]
    if len(weekdays) == 1 and weekdays[0][0] != day.weekday():
        return day, [
            f"Ngày {dmy(day)} là {WEEKDAY_NAMES[day.weekday()]}, không phải “{weekdays[0][1]}”."
        ]
    return day, []
