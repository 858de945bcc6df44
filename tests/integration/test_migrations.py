"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import bot.chat.models
import bot.directory.models
import bot.inbound.models
import bot.oa.models
import bot.outbound.models
import bot.web.models  # noqa: F401
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


async def test_a_database_in_use_upgrades_with_its_data(database_url: str) -> None:
    # Staff with audit entries and approvals pointing at them, as in any running commune: on
    # SQLite the staff table is rebuilt by 0003, which must neither fail nor lose a row.
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    from bot.db.migrate import alembic_config, upgrade_async

    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0002")
    now = datetime(2026, 11, 2, tzinfo=UTC)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "insert into communes (id, slug, name, hamlet_word, created_at) "
                    "values (1, 'x', 'Xã X', 'ấp', :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "insert into staff (id, commune_id, zalo_user_id, name, role, active) "
                    "values (1, 1, '3000000000000000001', 'Cán bộ', 'official', true)"
                )
            )
            await conn.execute(
                text(
                    "insert into audit_log (at, actor_staff_id, entity, entity_id, to_status, "
                    "flagged) values (:now, 1, 'campaign', 1, 'draft', false)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "insert into residents (zalo_user_id, display_name, commune_id, is_follower,"
                    " opted_out, created_at) values ('4000', 'Bà Sáu Nguyễn Thị Đào', 1, true,"
                    " false, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "insert into hamlets (id, commune_id, name, language) "
                    "values (1, 1, 'Ấp Tân Lập', 'vi')"
                )
            )
            await conn.execute(
                text(
                    "insert into households (commune_id, hamlet_id, code, head_name, category,"
                    " updated_at) values (1, 1, 'TL-01', 'Lê Văn Đức', 'poor', :now)"
                ),
                {"now": now},
            )
        await upgrade_async(database_url)
        async with engine.connect() as conn:
            staff = (await conn.execute(text("select name, phone from staff"))).all()
            audit = (await conn.execute(text("select actor_staff_id from audit_log"))).all()
            names = (await conn.execute(text("select search_name from residents"))).all()
            keys = (await conn.execute(text("select search_key from households"))).all()
    finally:
        await engine.dispose()
    assert staff == [("Cán bộ", None)] and audit == [(1,)]
    # Existing rows get their folded search keys.
    assert names == [("ba sau nguyen thi dao",)] and keys == [("tl 01 le van duc",)]
