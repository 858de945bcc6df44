"""What the database itself holds, as an operator reading it would see it."""

from __future__ import annotations

from sqlalchemy import text

from bot.clock import FakeClock
from bot.db import make_engine, make_sessionmaker
from bot.outbox import queue_message


async def test_a_queued_message_is_stored_as_readable_vietnamese(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            queue_message(
                session,
                key="reply:1:0",
                channel="cs",
                recipient_id="4000000000000000001",
                text="Hộ nghèo được vay vốn ưu đãi",
                purpose="reply",
                now=FakeClock().now(),
            )
            await session.commit()
            stored = (
                await session.execute(text("SELECT CAST(message AS TEXT) FROM outbound_messages"))
            ).scalar()
        assert stored is not None and "Hộ nghèo được vay vốn ưu đãi" in stored
        assert "\\u" not in stored
    finally:
        await engine.dispose()
