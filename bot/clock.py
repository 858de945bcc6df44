"""Clocks: the one source of 'now' for the service, swappable in tests."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

WEEKDAY_NAMES = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current aware UTC time."""
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to; for tests and benchmarks."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move time forward by a timedelta or a number of seconds."""
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to an absolute aware time."""
        self._now = when.astimezone(UTC)


def epoch_ms(when: datetime) -> str:
    """Zalo's timestamp form: epoch milliseconds as a string."""
    return str(int(when.timestamp() * 1000))


def from_epoch_ms(value: str | int) -> datetime:
    """Parse Zalo's epoch-millisecond timestamp into an aware UTC datetime."""
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def hm(at: time) -> str:
    """A time of day as Vietnamese write it: "19h30", "7h"."""
    return f"{at.hour}h{at.minute:02d}" if at.minute else f"{at.hour}h"


def day_and_time(when: datetime) -> str:
    """A moment in Vietnam time, for residents: "19h30 thứ Sáu 20/12"."""
    local = when.astimezone(VN_TZ)
    return f"{hm(local.time())} {WEEKDAY_NAMES[local.weekday()]} {local.day}/{local.month}"
