"""Reading a chat back after a send whose outcome is unknown: at most one copy, never a silent loss."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.clock import FakeClock
from bot.outbound.channels import zalo_channels
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.outbox import (
    HISTORY_LAG,
    HISTORY_PAGE,
    HISTORY_PAGES,
    REREAD_POLL,
    RESOLVE_TRIES,
    OutboxSender,
    queue_message,
)
from bot.sandbox.demo import HAMLETS
from bot.sandbox.platform import ChatMessage, SandboxPlatform
from tests.service import Service, running_service

BA_SAU = "4000000000000000001"  # a demo resident inside Zalo's 7-day window
GROUP = HAMLETS[0][2]
TEXT = "[THÔNG BÁO] Họp ấp lúc 19h30 thứ Sáu tại nhà văn hoá. Bà con nhắn “đã đọc” khi xem tin."
SEND_PATHS = {"group": "/v3.0/oa/group/message", "cs": "/v3.0/oa/message/cs"}
HISTORY_PATHS = {"group": "/v3.0/oa/group/conversation", "cs": "/v2.0/oa/conversation"}


@dataclass
class World:
    """The service in this process (its workers stopped) and an outbox driven step by step."""

    service: Service
    clock: FakeClock
    outbox: OutboxSender
    history_calls: list[int]
    senders: list[OutboxSender]

    @property
    def platform(self) -> SandboxPlatform:
        return self.service.platform

    def restarted_outbox(self) -> OutboxSender:
        """A new sender, as after a restart: nothing of the old one's memory."""
        outbox = sender(self.service, self.clock, self.history_calls)
        self.senders.append(outbox)
        return outbox

    async def queue(self, channel: str) -> int:
        async with self.service.runtime.sessions() as session:
            row = queue_message(
                session,
                key=f"test:{channel}",
                channel=channel,
                recipient_id=GROUP if channel == "group" else BA_SAU,
                text=TEXT,
                purpose="broadcast",
                now=self.clock.now(),
                priority=False,
            )
            await session.commit()
            return row.id

    async def row(self, row_id: int) -> OutboundMessage:
        async with self.service.runtime.sessions() as session:
            found = await session.get(OutboundMessage, row_id)
            assert found is not None
            return found

    async def drain(self, outbox: OutboxSender | None = None) -> None:
        outbox = outbox or self.outbox
        await outbox.drain_once()
        await outbox.wait_idle()

    def copies(self, channel: str) -> int:
        chat = (
            self.platform.groups[GROUP].messages
            if channel == "group"
            else self.platform.chats[BA_SAU]
        )
        return sum(1 for m in chat if m.from_oa and m.text == TEXT)

    def chatter(self, channel: str, count: int) -> None:
        """`count` replies after the post, as a busy hamlet acknowledges it ("đã đọc", "1", "ok")."""
        members = self.platform.groups[GROUP].members
        for i in range(count):
            sender_id = members[i % len(members)] if channel == "group" else BA_SAU
            reply = ("đã đọc", "1", "ok", "dạ em biết rồi")[i % 4]
            message = ChatMessage(
                secrets.token_hex(16), sender_id, False, "text", reply, self.clock.now(), "user"
            )
            chat = (
                self.platform.groups[GROUP].messages
                if channel == "group"
                else self.platform.chats[BA_SAU]
            )
            chat.append(message)


def sender(service: Service, clock: FakeClock, calls: list[int]) -> OutboxSender:
    """An outbox on the service's real Zalo client, counting history calls, settling at once."""
    send, history = zalo_channels(service.runtime.zalo)

    async def counted(row: OutboundMessage, offset: int, count: int) -> list[dict[str, object]]:
        calls.append(offset)
        return await history(row, offset, count)

    return OutboxSender(service.runtime.sessions, clock, send, counted, settle_delay=0)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    clock = FakeClock(datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    async with running_service(database_url, clock=clock, start_jobs=False) as service:
        calls: list[int] = []
        outbox = sender(service, clock, calls)
        world = World(service, clock, outbox, calls, [outbox])
        yield world
        for each in world.senders:
            await each.stop()  # read-backs still waiting out the history's lag


async def lose_the_answer(world: World, channel: str, replies_after: int) -> int:
    """A send Zalo carries out whose answer never comes back, with replies landing after the post."""
    row_id = await world.queue(channel)
    world.platform.inject(SEND_PATHS[channel], "drop_answer")
    send_group, send_cs = world.platform.api_send_group, world.platform.api_send_cs

    def posted_then_chatter(body: object, original: object) -> object:
        answer = original(body)  # type: ignore[operator]
        world.chatter(channel, replies_after)
        return answer

    world.platform.api_send_group = lambda body: posted_then_chatter(body, send_group)  # type: ignore[method-assign]
    world.platform.api_send_cs = lambda body: posted_then_chatter(body, send_cs)  # type: ignore[method-assign]
    try:
        await world.drain()
    finally:
        world.platform.api_send_group, world.platform.api_send_cs = send_group, send_cs  # type: ignore[method-assign]
    return row_id


async def killed_at_the_unknown_moment(
    world: World, channel: str, replies_after: int, *, went: bool
) -> int:
    """What kill -9 between Zalo's acceptance and our record leaves: the row `sending`, maybe a copy."""
    row_id = await world.queue(channel)
    now = world.clock.now()
    async with world.service.runtime.sessions() as session:
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == row_id)
            .values(status=OutboxStatus.SENDING, sending_since=now, attempts=1)
        )
        await session.commit()
    if went:
        target = {"group_id": GROUP} if channel == "group" else {"user_id": BA_SAU}
        body = {"recipient": target, "message": {"text": TEXT}}
        (world.platform.api_send_group if channel == "group" else world.platform.api_send_cs)(body)
    world.chatter(channel, replies_after)
    return row_id


async def settle(world: World, outbox: OutboxSender) -> None:
    """The sweep, as it runs after the stale interval: read back what is still `sending`, send what is due."""
    world.clock.advance(timedelta(minutes=3))
    await outbox.resolve_unknown()
    await world.drain(outbox)


BUSY = [0, 9, 10, 11, 50]


@pytest.mark.parametrize("channel", ["group", "cs"])
@pytest.mark.parametrize("replies_after", BUSY)
async def test_a_lost_answer_in_a_busy_chat_leaves_exactly_one_copy(
    world: World, channel: str, replies_after: int
) -> None:
    row_id = await lose_the_answer(world, channel, replies_after)
    await settle(world, world.outbox)
    row = await world.row(row_id)
    assert world.copies(channel) == 1
    assert row.status == OutboxStatus.SENT and row.zalo_message_id
    # The first read, right after the lost answer, already finds it: one page per ten later replies.
    assert len(world.history_calls) == replies_after // HISTORY_PAGE + 1


@pytest.mark.parametrize("channel", ["group", "cs"])
@pytest.mark.parametrize("replies_after", BUSY)
async def test_killed_after_zalo_accepted_a_busy_chat_is_recorded_not_resent(
    world: World, channel: str, replies_after: int
) -> None:
    row_id = await killed_at_the_unknown_moment(world, channel, replies_after, went=True)
    await settle(world, world.restarted_outbox())
    row = await world.row(row_id)
    assert world.copies(channel) == 1
    assert row.status == OutboxStatus.SENT


@pytest.mark.parametrize("channel", ["group", "cs"])
@pytest.mark.parametrize("replies_after", [0, 11, 50])
async def test_killed_before_zalo_got_it_the_copy_is_sent_once(
    world: World, channel: str, replies_after: int
) -> None:
    row_id = await killed_at_the_unknown_moment(world, channel, replies_after, went=False)
    outbox = world.restarted_outbox()
    await settle(world, outbox)
    await settle(world, outbox)  # a second sweep finds nothing more to do
    assert world.copies(channel) == 1
    assert (await world.row(row_id)).status == OutboxStatus.SENT


@pytest.mark.parametrize("channel", ["group", "cs"])
async def test_a_chat_too_busy_to_read_back_is_left_for_a_person_not_resent(
    world: World, channel: str
) -> None:
    row_id = await lose_the_answer(world, channel, 500)
    await settle(world, world.outbox)
    await settle(world, world.outbox)
    row = await world.row(row_id)
    assert world.copies(channel) == 1
    assert row.status == OutboxStatus.UNCERTAIN
    assert row.error_reason and "cần người kiểm tra" in row.error_reason
    assert len(world.history_calls) == HISTORY_PAGES  # bounded: the cap, then a person decides


@pytest.mark.parametrize("went", [True, False])
async def test_a_busy_group_killed_mid_send_is_never_guessed(world: World, went: bool) -> None:
    row_id = await killed_at_the_unknown_moment(world, "group", 500, went=went)
    await settle(world, world.restarted_outbox())
    assert world.copies("group") == (1 if went else 0)
    row = await world.row(row_id)
    assert row.status == OutboxStatus.UNCERTAIN  # not lost silently: it waits for a person


async def test_a_lagging_history_is_waited_for_not_taken_as_absence(world: World) -> None:
    world.platform.history_lag = timedelta(seconds=5)
    row_id = await lose_the_answer(world, "group", 3)
    # Read at once, the copy is not in the history yet: the row stays open instead of being resent.
    assert (await world.row(row_id)).status == OutboxStatus.SENDING
    # Once the lag allowance has passed on the clock, the sender reads it again by itself.
    world.clock.advance(HISTORY_LAG)
    await asyncio.wait_for(world.outbox.wait_rereads(), timeout=10)
    assert (await world.row(row_id)).status == OutboxStatus.SENT
    assert world.copies("group") == 1
    assert len(world.history_calls) == 2


async def test_a_history_that_cannot_be_read_turns_the_row_uncertain(world: World) -> None:
    world.platform.inject(HISTORY_PATHS["group"], "-201", 1000)  # the API keeps refusing the read
    row_id = await lose_the_answer(world, "group", 0)  # the first read, right after the lost answer
    for _ in range(RESOLVE_TRIES - 1):
        assert (await world.row(row_id)).status == OutboxStatus.SENDING
        await settle(world, world.outbox)
    row = await world.row(row_id)
    assert world.copies("group") == 1
    assert row.status == OutboxStatus.UNCERTAIN
    assert row.error_reason and "lịch sử" in row.error_reason
    assert len(world.history_calls) == RESOLVE_TRIES


async def test_an_earlier_copy_of_the_same_text_is_not_taken_for_this_one(world: World) -> None:
    # The same text went out a moment earlier (an identical reminder); our row for it is recorded.
    first = await world.queue("group")
    await world.drain()
    assert (await world.row(first)).status == OutboxStatus.SENT
    async with world.service.runtime.sessions() as session:
        await session.execute(update(OutboundMessage).values(key="test:earlier"))
        await session.commit()
    world.clock.advance(timedelta(seconds=20))
    row_id = await killed_at_the_unknown_moment(world, "group", 2, went=False)
    await settle(world, world.restarted_outbox())
    assert world.copies("group") == 2  # the earlier one and this one, each once
    async with world.service.runtime.sessions() as session:
        ids = (await session.scalars(select(OutboundMessage.zalo_message_id))).all()
    assert len(set(ids)) == 2
    assert (await world.row(row_id)).status == OutboxStatus.SENT


async def test_the_lag_counts_from_when_the_outcome_became_unknown_not_from_the_claim(
    world: World,
) -> None:
    # The request takes 20 s to be accepted (limiter, retries) and its answer is lost; the history
    # shows it 45 s after that: 65 s after the claim, within the lag of the moment Zalo took it.
    world.platform.history_lag = timedelta(seconds=45)
    row_id = await world.queue("group")
    world.platform.inject(SEND_PATHS["group"], "drop_answer")
    send_group = world.platform.api_send_group

    def slow(body: object) -> object:
        world.clock.advance(20)
        return send_group(body)  # type: ignore[arg-type]

    world.platform.api_send_group = slow  # type: ignore[method-assign]
    try:
        await world.drain()
    finally:
        world.platform.api_send_group = send_group  # type: ignore[method-assign]
    world.clock.advance(41)  # a minute after the claim, 41 s after the lost answer
    await world.outbox.resolve_unknown(older_than=timedelta(0))
    assert (await world.row(row_id)).status == OutboxStatus.SENDING  # not yet believed absent
    world.clock.advance(20)
    await asyncio.wait_for(world.outbox.wait_rereads(), timeout=10)
    assert (await world.row(row_id)).status == OutboxStatus.SENT
    await world.drain()
    assert world.copies("group") == 1


async def test_two_rows_with_the_same_text_cannot_both_take_one_copy(world: World) -> None:
    # The same canned reply twice to one resident; both answers are lost, only one send arrived.
    world.platform.inject(SEND_PATHS["cs"], "drop_answer")
    world.platform.inject(SEND_PATHS["cs"], "5xx")  # not carried out, and the client cannot know
    ids = []
    async with world.service.runtime.sessions() as session:
        for key in ("test:a", "test:b"):
            row = queue_message(
                session,
                key=key,
                channel="cs",
                recipient_id=BA_SAU,
                text=TEXT,
                purpose="reply",
                now=world.clock.now(),
            )
            await session.flush()
            ids.append(row.id)
        await session.commit()
    await world.drain()
    assert world.copies("cs") == 1
    await settle(world, world.outbox)
    rows = [await world.row(i) for i in ids]
    assert [r.status for r in rows] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert rows[0].zalo_message_id != rows[1].zalo_message_id
    assert world.copies("cs") == 2  # the one that never arrived was sent once more


async def test_a_stopped_sender_leaves_an_unknown_send_for_the_next_start(world: World) -> None:
    row_id = await world.queue("group")
    world.platform.inject(SEND_PATHS["group"], "drop_answer")
    world.platform.history_lag = timedelta(seconds=5)  # the first read cannot see the copy
    await world.outbox.drain_once()
    await world.outbox.stop()  # the send ends unknown while the sender stops
    world.clock.advance(timedelta(minutes=3))
    await asyncio.sleep(2 * REREAD_POLL)  # time for a read-back it should not have left behind
    assert (await world.row(row_id)).status == OutboxStatus.SENDING
    await settle(world, world.restarted_outbox())
    assert world.copies("group") == 1
    assert (await world.row(row_id)).status == OutboxStatus.SENT
