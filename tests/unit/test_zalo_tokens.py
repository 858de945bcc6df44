"""TokenManager: proactive refresh, single flight, persisted before use, terminal failure."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.zalo.errors import AuthorizationLost, OAuthError, TransientHTTPError
from bot.zalo.tokens import TokenManager, TokenPair

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


class Now:
    def __init__(self) -> None:
        self.value = T0

    def __call__(self) -> datetime:
        return self.value


class MemoryStore:
    def __init__(self, pair: TokenPair | None) -> None:
        self.pair = pair
        self.saves: list[TokenPair] = []

    async def load(self) -> TokenPair | None:
        return self.pair

    async def save(self, pair: TokenPair) -> None:
        await asyncio.sleep(0)
        self.pair = pair
        self.saves.append(pair)


def pair(n: int, at: datetime = T0) -> TokenPair:
    return TokenPair(f"access-{n}", f"refresh-{n}", at + timedelta(hours=25))


class Refresher:
    def __init__(self, store: MemoryStore, now: Now) -> None:
        self.calls: list[str] = []
        self.store = store
        self.now = now
        self.saved_when_used: list[bool] = []

    async def __call__(self, refresh_token: str) -> TokenPair:
        self.calls.append(refresh_token)
        await asyncio.sleep(0.01)
        return pair(len(self.calls) + 1, self.now())


async def no_sleep(_: float) -> None:
    await asyncio.sleep(0)


async def test_fresh_token_is_returned_without_refresh() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    assert await manager.access_token() == "access-1"
    now.value = T0 + timedelta(hours=19, minutes=59)
    assert await manager.access_token() == "access-1"
    assert refresher.calls == []


async def test_proactive_refresh_at_twenty_hours_single_flight() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    now.value = T0 + timedelta(hours=20, minutes=1)
    tokens = await asyncio.gather(*(manager.access_token() for _ in range(20)))
    assert refresher.calls == ["refresh-1"]
    assert set(tokens) == {"access-2"}
    assert store.pair is not None and store.pair.access_token == "access-2"


async def test_concurrent_refresh_of_same_stale_token_refreshes_once() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    results = await asyncio.gather(*(manager.refresh("access-1") for _ in range(20)))
    assert refresher.calls == ["refresh-1"]
    assert set(results) == {"access-2"}
    # A latecomer holding the old token gets the new one without another refresh.
    assert await manager.refresh("access-1") == "access-2"
    assert refresher.calls == ["refresh-1"]


async def test_new_pair_is_saved_before_it_is_returned() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    token = await manager.refresh("access-1")
    assert store.saves and store.saves[-1].access_token == token


async def test_failed_save_is_retried_before_the_token_is_used() -> None:
    now = Now()

    class FlakyStore(MemoryStore):
        fail = True

        async def save(self, p: TokenPair) -> None:
            if self.fail:
                self.fail = False
                raise OSError("disk full")
            await super().save(p)

    store = FlakyStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    with pytest.raises(OSError):
        await manager.refresh("access-1")
    assert store.saves == []
    assert await manager.access_token() == "access-2"
    assert [p.access_token for p in store.saves] == ["access-2"]
    assert refresher.calls == ["refresh-1"]


async def test_refused_refresh_serves_the_old_token_until_it_dies_then_waits_for_install() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    calls = 0

    async def refuse(_: str) -> TokenPair:
        nonlocal calls
        calls += 1
        raise OAuthError(-14014, "Invalid refresh token")

    manager = TokenManager(store, refuse, now=now)
    now.value = T0 + timedelta(hours=21)  # inside the refresh margin: the early refresh is refused
    assert await manager.access_token() == "access-1"  # still valid for four hours: keep using it
    assert manager.lost and calls == 1
    with pytest.raises(AuthorizationLost):
        await manager.refresh("access-1")  # a refused refresh token is not tried again
    assert calls == 1
    now.value = T0 + timedelta(hours=25, seconds=1)
    with pytest.raises(AuthorizationLost):
        await manager.access_token()
    await manager.install(pair(9, now.value))
    assert not manager.lost
    assert await manager.access_token() == "access-9"
    assert store.pair == pair(9, now.value)


async def test_transient_refresh_errors_are_retried() -> None:
    now = Now()
    store = MemoryStore(pair(1))
    attempts = 0

    async def flaky(refresh_token: str) -> TokenPair:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise TransientHTTPError("bad gateway", 502)
        return pair(2)

    manager = TokenManager(store, flaky, now=now, sleep=no_sleep)
    assert await manager.refresh("access-1") == "access-2"
    assert attempts == 3 and not manager.lost


async def test_no_stored_pair_is_authorization_lost() -> None:
    manager = TokenManager(MemoryStore(None), Refresher(MemoryStore(None), Now()), now=Now())
    with pytest.raises(AuthorizationLost):
        await manager.access_token()


async def test_early_refresh_failing_transiently_keeps_the_valid_token() -> None:
    now = Now()
    store = MemoryStore(pair(1))

    async def down(_: str) -> TokenPair:
        raise TransientHTTPError("down", 503)

    manager = TokenManager(store, down, now=now, sleep=no_sleep, max_attempts=2)
    now.value = T0 + timedelta(hours=21)
    assert await manager.access_token() == "access-1"
    now.value = T0 + timedelta(hours=26)
    with pytest.raises(TransientHTTPError):
        await manager.access_token()


async def test_nobody_gets_the_new_token_until_it_is_saved() -> None:
    now = Now()
    gate = asyncio.Event()

    class SlowStore(MemoryStore):
        async def save(self, p: TokenPair) -> None:
            await gate.wait()
            await super().save(p)

    store = SlowStore(pair(1))
    refresher = Refresher(store, now)
    manager = TokenManager(store, refresher, now=now)
    now.value = T0 + timedelta(hours=21)
    callers = [asyncio.create_task(manager.access_token()) for _ in range(5)]
    await asyncio.sleep(0.05)
    assert refresher.calls == ["refresh-1"]
    assert not any(c.done() for c in callers)  # refreshed, but not yet durable: nobody may use it
    gate.set()
    assert set(await asyncio.gather(*callers)) == {"access-2"}
    assert [p.access_token for p in store.saves] == ["access-2"]
