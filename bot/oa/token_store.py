"""The OA's token pair kept in the database, so a restart uses the rotated refresh token."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.oa.models import ZaloToken
from bot.zalo.tokens import TokenPair


class DbTokenStore:
    """TokenStore on the zalo_tokens table: one row per OA, committed before the pair is used."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], oa_id: str, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._oa_id = oa_id
        self._clock = clock

    async def load(self) -> TokenPair | None:
        """The stored pair, if any."""
        async with self._sessions() as session:
            row = await session.get(ZaloToken, self._oa_id)
            if row is None:
                return None
            return TokenPair(row.access_token, row.refresh_token, row.expires_at)

    async def save(self, pair: TokenPair) -> None:
        """Replace the stored pair and commit."""
        async with self._sessions() as session:
            row = await session.get(ZaloToken, self._oa_id)
            if row is None:
                row = ZaloToken(oa_id=self._oa_id)
                session.add(row)
            row.access_token = pair.access_token
            row.refresh_token = pair.refresh_token
            row.expires_at = pair.expires_at
            row.updated_at = self._clock.now()
            await session.commit()
