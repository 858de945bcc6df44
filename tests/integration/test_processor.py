"""Handling order, batches and memory: people first, receipts together, a flood kept in the table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chat.conversation import settle_receipts
from bot.clock import FakeClock
from bot.db.engine import make_engine, make_sessionmaker
from bot.inbound import processor as processor_module
from bot.inbound.events import MessageReceived, MessagesSeen, OAEcho
from bot.inbound.models import InboxEvent, InboxStatus
from bot.inbound.processor import InboxProcessor, RetryLater
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.outbox import queue_message


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the test's database, its engine disposed afterwards."""
    engine = make_engine(database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _stored(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, names: list[str]
) -> list[tuple[int, str]]:
    """Pending inbox rows with these event names, as (id, name) in id order."""
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
        return [
            (r.id, r.event_name)
            for r in (await session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        ]


async def test_a_receipt_flood_is_held_in_the_table_not_in_memory_and_every_row_is_handled_once(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processor_module, "MAX_QUEUED", 3)
    clock = FakeClock()
    receipts, seen = ["user_received_message"] * 6, ["user_seen_message"] * 4
    names = [*receipts, "user_send_text", *seen, "user_send_text"]
    rows = await _stored(sessions, clock, names)
    handled: list[str] = []

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        handled.append(row.event_name)

    worker = InboxProcessor(sessions, clock, handle)
    worker.submit(sorted(rows))
    # Three receipts and both people's messages; the other receipts stay in the table for now.
    assert worker.backlog == 3 + 2
    await worker.run_until_idle()
    assert handled[:2] == ["user_send_text", "user_send_text"]
    assert sorted(handled) == sorted(names)  # each row once
    async with sessions() as session:
        statuses = (await session.scalars(select(InboxEvent.status))).all()
    assert set(statuses) == {InboxStatus.DONE}


async def test_receipts_handled_together_keep_their_own_outcomes_when_one_fails(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    rows = await _stored(sessions, clock, ["user_received_message"] * 5 + ["user_seen_message"] * 2)
    broken, early = rows[2][0], rows[5][0]
    tries: dict[int, int] = {}

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        tries[row.id] = tries.get(row.id, 0) + 1
        row.attempts += 1  # an effect that must commit with the done mark, or not at all
        if row.id == broken:
            raise RuntimeError("bad receipt")
        if row.id == early and tries[row.id] <= 2:
            raise RetryLater()

    worker = InboxProcessor(sessions, clock, handle)
    worker.submit(rows)
    await worker.run_until_idle()
    async with sessions() as session:
        stored = {r.id: r for r in (await session.scalars(select(InboxEvent)))}
    others = [ident for ident, _ in rows if ident not in (broken, early)]
    # The batch failed as a whole, so each row ran again on its own: one committed effect each,
    # also for the rows the batch had handled before the broken one.
    assert tries[rows[0][0]] == tries[rows[1][0]] == 2
    assert all(stored[i].status == InboxStatus.DONE and stored[i].attempts == 1 for i in others)
    assert stored[broken].status == InboxStatus.PENDING and stored[broken].attempts == 1
    assert stored[broken].error == "RuntimeError: bad receipt"
    # Too early twice (in the batch, then alone): still pending, nothing of its effect kept.
    assert stored[early].status == InboxStatus.PENDING and stored[early].attempts == 0


async def test_a_batch_of_receipts_commits_once_and_skips_rows_already_done(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    rows = await _stored(sessions, clock, ["user_received_message"] * 40)
    async with sessions() as session:
        done_before = await session.get(InboxEvent, rows[3][0])
        assert done_before is not None
        done_before.status = InboxStatus.DONE  # handled already, e.g. by a run before a restart
        await session.commit()
    handled: list[int] = []
    commits = 0

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        handled.append(row.id)

    def committed() -> None:
        nonlocal commits
        commits += 1

    worker = InboxProcessor(sessions, clock, handle, on_committed=committed)
    worker.submit(rows)
    await worker.run_until_idle()
    assert handled == [ident for ident, _ in rows if ident != rows[3][0]]
    assert commits == 2  # 40 receipts: a batch of 32, then one of 8


async def test_receipts_of_our_own_sends_are_settled_together_and_the_rest_go_to_their_handlers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    earlier = clock.now() - timedelta(hours=1)
    async with sessions() as session:
        for n, msg_id in enumerate(["m1", "m2", "m3", "m4"]):
            row = queue_message(
                session,
                key=f"k{n}",
                channel="cs",
                recipient_id=f"u{n}",
                text="Họp ấp",
                purpose="broadcast",
                now=earlier,
            )
            row.status, row.zalo_message_id = OutboxStatus.SENT, msg_id
        await session.flush()
        row.received_at = earlier  # m4 had reached the phone already
        await session.commit()
    events = {
        1: MessageReceived("user_received_message", "1795407042842", "u0", "m1"),
        2: MessagesSeen("user_seen_message", "1795407042842", "u1", ("m1", "m2")),
        3: OAEcho("oa_send_text", "1795407042842", "u2", "m3", "Họp ấp"),
        4: MessagesSeen("user_seen_message", "1795407042842", "u3", ("m4",)),
        5: OAEcho("oa_send_text", "1795407042842", "u9", "typed-in-oa-manager", "Chào bác"),
        6: MessageReceived("user_received_message", "1795407042842", "u9", "not-recorded-yet"),
        7: MessagesSeen("user_seen_message", "1795407042842", "u1", ("m2", "not-recorded-yet")),
    }
    async with sessions() as session:
        settled = await settle_receipts(session, clock.now(), events)
        await session.commit()
    assert settled == {1, 2, 3, 4}  # the others need their handlers (hand-over, retry-later)
    async with sessions() as session:
        got = {
            r.zalo_message_id: (r.received_at, r.seen_at)
            for r in (await session.scalars(select(OutboundMessage))).all()
        }
    now = clock.now()
    assert got == {
        "m1": (now, now),
        "m2": (now, now),  # seen counts as received too
        "m3": (None, None),
        "m4": (earlier, now),  # a first receipt is never overwritten
    }


async def test_a_batch_hands_only_what_was_not_settled_to_the_handler(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    rows = await _stored(sessions, clock, ["user_received_message"] * 6)
    handled: list[int] = []

    async def settle(session: AsyncSession, batch: list[InboxEvent]) -> set[int]:
        return {row.id for row in batch if row.id % 2 == 0}

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        handled.append(row.id)

    worker = InboxProcessor(sessions, clock, handle, settle=settle)
    worker.submit(rows)
    await worker.run_until_idle()
    assert handled == [ident for ident, _ in rows if ident % 2]
    async with sessions() as session:
        assert set((await session.scalars(select(InboxEvent.status))).all()) == {InboxStatus.DONE}
