"""The rate limiter on a fake clock: smooth rate, priority lane first, cancellation safe."""

import asyncio
import bisect

import pytest

from bot.zalo.limiter import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds
        await asyncio.sleep(0)


async def test_priority_lane_overtakes_a_large_backlog() -> None:
    clock = FakeTime()
    limiter = RateLimiter(60, burst=1, now=clock.now, sleep=clock.sleep)
    order: list[str] = []

    async def take(name: str, priority: bool) -> None:
        await limiter.acquire(priority)
        order.append(name)

    backlog = [asyncio.create_task(take(f"b{i}", False)) for i in range(200)]
    await asyncio.sleep(0)  # the broadcasts are queued first
    replies = [asyncio.create_task(take(f"r{i}", True)) for i in range(5)]
    await asyncio.gather(*backlog, *replies)
    first_reply = min(order.index(f"r{i}") for i in range(5))
    last_reply = max(order.index(f"r{i}") for i in range(5))
    # b0 took the burst token; at most one broadcast was granted before the replies queued.
    assert first_reply <= 2
    assert last_reply == first_reply + 4
    assert [n for n in order if n.startswith("r")] == [f"r{i}" for i in range(5)]
    assert [n for n in order if n.startswith("b")] == [f"b{i}" for i in range(200)]


async def test_rate_is_respected() -> None:
    clock = FakeTime()
    limiter = RateLimiter(4000, burst=6, now=clock.now, sleep=clock.sleep)
    start = clock.t
    stamps: list[float] = []

    async def take() -> None:
        await limiter.acquire()
        stamps.append(clock.t - start)

    await asyncio.gather(*(take() for _ in range(4000)))
    # 6 from the burst, then 3,994 more at the rate that keeps the minute at 4,000: one minute.
    assert clock.t - start == pytest.approx(60.0, rel=1e-3)
    # Smooth: no second ever sees much more than 4000/60 grants.
    per_second: dict[int, int] = {}
    for s in stamps:
        per_second[int(s)] = per_second.get(int(s), 0) + 1
    assert max(per_second.values()) <= 4000 // 60 + 6 + 1


async def test_no_minute_however_placed_holds_more_than_the_limit() -> None:
    clock = FakeTime()
    limiter = RateLimiter(4000, burst=6, now=clock.now, sleep=clock.sleep)
    stamps: list[float] = []

    async def take(n: int) -> None:
        for _ in range(n):
            await limiter.acquire()
            stamps.append(clock.t)

    # A backlog, a pause that fills the bucket again, then another backlog: Zalo counts each
    # minute, and a full bucket spent on top of a minute at the full rate must not go over.
    await take(5000)
    clock.t += 7.5
    await take(9000)
    counts = [bisect.bisect_right(stamps, at + 60.0) - i for i, at in enumerate(stamps)]
    assert max(counts) == 4000  # every window of 60 s (both ends counted), wherever it starts


async def test_idle_limiter_grants_immediately_up_to_burst() -> None:
    clock = FakeTime()
    limiter = RateLimiter(60, burst=3, now=clock.now, sleep=clock.sleep)
    for _ in range(3):
        await limiter.acquire()
    assert clock.slept == 0
    await limiter.acquire()
    assert clock.slept == pytest.approx(60 / 57)  # the burst of 3 is kept out of the minute's 60


async def test_cancelled_waiter_leaves_the_queue() -> None:
    clock = FakeTime()
    gate = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await gate.wait()
        clock.t += seconds

    limiter = RateLimiter(60, burst=1, now=clock.now, sleep=slow_sleep)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    other = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.waiting == 2
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.waiting == 1
    gate.set()
    await asyncio.wait_for(other, 1)
    assert limiter.waiting == 0
