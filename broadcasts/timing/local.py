"""Vietnam time: the zone, quiet hours, and how a moment is written for officials.

Times go in and come out as aware UTC datetimes; calendar reasoning happens in Asia/Ho_Chi_Minh,
never in the machine's zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

# Re-exported: the announcements read the zone and the words for days and times from here.
from bot.clock import VN_TZ as VN_TZ
from bot.clock import WEEKDAY_NAMES as WEEKDAY_NAMES
from bot.clock import hm as hm

QUIET_START = time(21, 0)
QUIET_END = time(6, 0)


class TimingError(ValueError):
    """A schedule the official must fix; ``problems`` lists every issue, in Vietnamese."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__(" ".join(self.problems))


def aware(when: datetime, name: str = "when") -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {when!r}")
    return when


def to_local(when: datetime) -> datetime:
    return aware(when).astimezone(VN_TZ)


def utc_at(day: date, at: time) -> datetime:
    return datetime.combine(day, at.replace(second=0, microsecond=0, tzinfo=VN_TZ)).astimezone(UTC)


def dmy(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def join_vi(items: list[str]) -> str:
    return ", ".join(items)


def in_quiet_hours(when: datetime) -> bool:
    """Whether ``when`` falls in quiet hours, 21:00–06:00 Vietnam time."""
    local = to_local(when).time()
    return local >= QUIET_START or local < QUIET_END


def after_quiet_hours(when: datetime) -> datetime:
    """``when`` as UTC, or the next 06:00 Vietnam time if it falls in quiet hours."""
    when = aware(when).astimezone(UTC)
    if not in_quiet_hours(when):
        return when
    local = when.astimezone(VN_TZ)
    day = local.date() + timedelta(days=1) if local.time() >= QUIET_START else local.date()
    return utc_at(day, QUIET_END)


def format_local(when: datetime) -> str:
    """``when`` in Vietnam time as officials write it: "19h30 thứ Sáu 20/12/2026"."""
    local = to_local(when)
    return f"{hm(local.time())} {WEEKDAY_NAMES[local.weekday()]} {dmy(local.date())}"
