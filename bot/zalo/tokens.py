"""OA access tokens: proactive, single-flight refresh with the new pair persisted before use."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from bot.zalo.errors import AuthorizationLost, TransientHTTPError, ZaloClientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    """An access token, the single-use refresh token issued with it, and when the access token dies."""

    access_token: str
    refresh_token: str
    expires_at: datetime

    def __repr__(self) -> str:
        # Tokens are credentials: keep them out of logs and tracebacks.
        return f"TokenPair(access_token=<{len(self.access_token)} chars>, expires_at={self.expires_at!r})"


class TokenStore(Protocol):
    """Durable storage of the current token pair (one row per OA)."""

    async def load(self) -> TokenPair | None:
        """Return the stored pair, or None when nothing was ever stored."""
        ...

    async def save(self, pair: TokenPair) -> None:
        """Persist the pair durably (committed) before returning."""
        ...


Refresher = Callable[[str], Awaitable[TokenPair]]
_TRANSIENT = (TransientHTTPError, aiohttp.ClientError, asyncio.TimeoutError)


class TokenManager:
    """Hands out a valid access token and rotates the pair with Zalo when it is due or rejected."""

    def __init__(
        self,
        store: TokenStore,
        refresher: Refresher,
        *,
        now: Callable[[], datetime],
        refresh_margin: timedelta = timedelta(hours=5),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
    ) -> None:
        self._store = store
        self._refresher = refresher
        self._now = now
        self._margin = refresh_margin
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._pair: TokenPair | None = None
        self._unsaved: TokenPair | None = None
        self._lost: AuthorizationLost | None = None
        self._lost_refresh_token: str | None = None
        self._load_lock = asyncio.Lock()
        self._inflight: asyncio.Task[TokenPair] | None = None
        self.refresh_count = 0

    @property
    def lost(self) -> bool:
        """True after Zalo refused the refresh token, until a new pair is installed."""
        return self._lost is not None

    async def access_token(self) -> str:
        """Return a usable access token, refreshing first when it is within the margin of expiry."""
        pair = await self._current()
        if self._lost is not None or self._now() < pair.expires_at - self._margin:
            # After a refused refresh the old token still works until it expires: keep using it
            # (that is how the alert to the admins can still go out), without asking Zalo again.
            return pair.access_token
        try:
            return await self.refresh(pair.access_token)
        except ZaloClientError as exc:
            if (
                exc.transient or isinstance(exc, AuthorizationLost)
            ) and self._now() < pair.expires_at:
                # Refreshing early is a courtesy; the old token still works for a while.
                log.warning("early token refresh failed, using the current token: %s", exc)
                return pair.access_token
            raise

    async def refresh(self, stale_token: str | None = None) -> str:
        """Rotate the pair once for all callers; if `stale_token` was already replaced, return the new one."""
        pair = await self._current()
        if stale_token is not None and pair.access_token != stale_token:
            return pair.access_token
        if self._lost is not None:
            raise self._lost
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.get_running_loop().create_task(self._rotate(pair))
        # Shielded: a cancelled caller must not abort a rotation Zalo may already have done.
        new = await asyncio.shield(self._inflight)
        return new.access_token

    async def install(self, pair: TokenPair) -> None:
        """Store a freshly granted pair (OAuth callback or console seed) and leave the lost state."""
        await self._store.save(pair)
        self._pair = pair
        self._unsaved = None
        self._lost = None
        self._lost_refresh_token = None

    async def _current(self) -> TokenPair:
        if self._unsaved is not None:
            await self._save(self._unsaved)
        if self._lost is not None:
            # Someone else (another process, the OAuth callback) may have stored a new grant.
            stored = await self._store.load()
            if stored is not None and stored.refresh_token != self._lost_refresh_token:
                self._pair, self._lost, self._lost_refresh_token = stored, None, None
            elif self._pair is not None and self._now() < self._pair.expires_at:
                return self._pair
            else:
                raise self._lost
        if self._pair is None:
            async with self._load_lock:
                if self._pair is None:
                    self._pair = await self._store.load()
            if self._pair is None:
                raise AuthorizationLost("no OA token pair is stored; an OA admin must grant access")
        return self._pair

    async def _rotate(self, pair: TokenPair) -> TokenPair:
        attempt = 0
        while True:
            attempt += 1
            try:
                new = await self._refresher(pair.refresh_token)
                break
            except _TRANSIENT as exc:
                if attempt >= self._max_attempts:
                    raise (
                        exc if isinstance(exc, ZaloClientError) else TransientHTTPError(repr(exc))
                    ) from exc
                delay = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
                log.warning(
                    "token refresh attempt %d failed (%s); retrying in %.1fs", attempt, exc, delay
                )
                await self._sleep(delay * random.uniform(0.5, 1.0))
            except Exception as exc:
                self._lost = (
                    exc if isinstance(exc, AuthorizationLost) else AuthorizationLost(str(exc))
                )
                self._lost_refresh_token = pair.refresh_token
                log.error(  # noqa: TRY400 - Zalo's refusal is the whole story
                    "Zalo refused the refresh token; an OA admin must grant access again: %s", exc
                )
                raise self._lost from exc
        self.refresh_count += 1
        # The old refresh token is dead now: keep the new pair even if saving fails, and save it
        # before anyone may use it.
        self._unsaved = new
        self._pair = new
        await self._save(new)
        return new

    async def _save(self, pair: TokenPair) -> None:
        await self._store.save(pair)
        if self._unsaved is pair:
            self._unsaved = None
