"""The OA's Zalo client as this service builds it: tokens kept in the database, one rate limit."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.oa.token_store import DbTokenStore
from bot.zalo.client import ZaloClient
from bot.zalo.limiter import RateLimiter
from bot.zalo.oauth import refresh_tokens
from bot.zalo.tokens import TokenManager, TokenPair


def build_client(
    settings: Settings,
    http: aiohttp.ClientSession,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    limiter: RateLimiter | None = None,
    refresh_margin: timedelta = timedelta(hours=5),
) -> tuple[ZaloClient, TokenManager, DbTokenStore]:
    """A client on the stored, rotating token pair; returns it with its token manager and store."""

    async def refresher(refresh_token: str) -> TokenPair:
        return await refresh_tokens(
            http,
            settings.zalo_oauth_base,
            settings.zalo_app_id,
            settings.zalo_app_secret,
            refresh_token,
            now=clock.now,
        )

    store = DbTokenStore(sessions, settings.zalo_oa_id, clock)
    tokens = TokenManager(store, refresher, now=clock.now, refresh_margin=refresh_margin)
    client = ZaloClient(
        http,
        api_base=settings.zalo_api_base,
        tokens=tokens,
        limiter=limiter or RateLimiter(settings.zalo_rate_per_minute),
    )
    return client, tokens, store
