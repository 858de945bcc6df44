"""The app's one outbound rate limit, with a priority lane for replies to residents."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable

# Float slack: refills computed from clock differences can land a hair under a whole token, and
# sleeping for that hair would not move a coarse clock at all.
_EPSILON = 1e-9


class RateLimiter:
    """A token bucket of `per_minute` calls, refilled smoothly, that serves priority waiters first.

    Zalo allows 4,000 calls per minute per app; spending them as an even stream (with only a
    small burst) keeps a broadcast from using the whole minute's budget in one second while a
    resident waits for an answer. The bucket refills at `per_minute` less the burst, so that no
    minute, wherever it starts, holds more than `per_minute` calls: a full bucket spent at once
    plus a minute at the full rate would go over, and Zalo answers the excess with -32. Waiters
    in each lane are served first come, first served.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        burst: int | None = None,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        # A tenth of a second's worth of calls by default: smooth, yet not one-at-a-time.
        self._capacity = float(burst if burst is not None else max(1, per_minute // 600))
        if self._capacity >= per_minute:
            raise ValueError("burst must be smaller than per_minute")
        self._interval = 60.0 / (per_minute - self._capacity)
        self._now = now
        self._sleep = sleep
        self._tokens = self._capacity
        self._stamp = now()
        self._priority: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def per_minute(self) -> float:
        """The sustained rate in calls per minute (the limit less the burst)."""
        return 60.0 / self._interval

    @property
    def waiting(self) -> int:
        """How many callers are queued (both lanes)."""
        return len(self._priority) + len(self._normal)

    async def acquire(self, priority: bool = False) -> None:
        """Wait for a slot; priority callers overtake every non-priority waiter."""
        self._refill()
        ahead = self._priority if priority else self._priority or self._normal
        if not ahead and self._tokens >= 1 - _EPSILON:
            self._tokens -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = self._priority if priority else self._normal
        lane.append(future)
        self._ensure_dispatcher()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # The slot was granted in the same instant we were cancelled: hand it back.
                self._tokens = min(self._capacity, self._tokens + 1)
                if self.waiting:
                    self._ensure_dispatcher()
            else:
                with contextlib.suppress(ValueError):
                    lane.remove(future)
            raise

    def _refill(self) -> None:
        stamp = self._now()
        elapsed = stamp - self._stamp
        if elapsed > 0:
            self._tokens = min(self._capacity, self._tokens + elapsed / self._interval)
            self._stamp = stamp

    def _next_waiter(self) -> asyncio.Future[None] | None:
        for lane in (self._priority, self._normal):
            while lane:
                future = lane.popleft()
                if not future.done():
                    return future
        return None

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    async def _dispatch(self) -> None:
        # One task hands out slots, so lane order is decided in one place and never races.
        while True:
            self._refill()
            while self._tokens >= 1 - _EPSILON:
                future = self._next_waiter()
                if future is None:
                    break
                future.set_result(None)
                self._tokens -= 1
            if not self.waiting:
                return
            await self._sleep(max((1 - self._tokens) * self._interval, _EPSILON))
