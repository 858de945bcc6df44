"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import bot.chat.models
import bot.directory.models
import bot.inbound.models
import bot.oa.models
import bot.outbound.models  # noqa: F401
import broadcasts.models  # noqa: F401
from bot.db.base import Base
from bot.db.engine import make_engine


async def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], "models changed without a migration: " + repr(diff)[:2000]
