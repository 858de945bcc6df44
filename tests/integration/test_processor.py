"""Handling order and memory: people's messages first, and a flood of receipts waits in the table."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import processor as processor_module
from bot.clock import FakeClock
from bot.db import make_engine, make_sessionmaker
from bot.models import InboxEvent, InboxStatus
from bot.processor import InboxProcessor


async def test_a_receipt_flood_is_held_in_the_table_not_in_memory_and_every_row_is_handled_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "MAX_QUEUED", 3)
    clock = FakeClock()
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    receipts, seen = ["user_received_message"] * 6, ["user_seen_message"] * 4
    names = [*receipts, "user_send_text", *seen, "user_send_text"]
    async with sessions() as session:
        await session.execute(
            insert(InboxEvent),
            [
                {
                    "dedupe_key": f"k{i}",
                    "event_name": name,
                    "body": "{}",
                    "received_at": clock.now(),
                    "status": InboxStatus.PENDING,
                    "attempts": 0,
                }
                for i, name in enumerate(names)
            ],
        )
        await session.commit()
        rows = [(r.id, r.event_name) for r in (await session.scalars(select(InboxEvent))).all()]
    handled: list[str] = []

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        handled.append(row.event_name)

    worker = InboxProcessor(sessions, clock, handle)
    try:
        worker.submit(sorted(rows))
        # Three receipts and both people's messages; the other receipts stay in the table for now.
        assert worker.backlog == 3 + 2
        await worker.run_until_idle()
        assert handled[:2] == ["user_send_text", "user_send_text"]
        assert sorted(handled) == sorted(names)  # each row once
        async with sessions() as session:
            statuses = (await session.scalars(select(InboxEvent.status))).all()
        assert set(statuses) == {InboxStatus.DONE}
    finally:
        await engine.dispose()
