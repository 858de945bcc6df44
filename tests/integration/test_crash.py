"""A real `loa serve` process killed at the worst moments, then restarted against the same sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.db.engine import make_engine, make_sessionmaker
from bot.oa.models import ZaloToken
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.sandbox.platform import SandboxPlatform
from tests.service import ServeProcess, eventually, sandbox_and_serve

BA_SAU = "4000000000000000001"


@dataclass
class World:
    """A sandbox platform served in this process and a `loa serve` process pointed at it."""

    platform: SandboxPlatform
    serve: ServeProcess
    database_url: str

    def oa_texts(self, user_id: str) -> list[str]:
        return [m.text for m in self.platform.chats.get(user_id, []) if m.from_oa]

    async def outbound(self) -> list[OutboundMessage]:
        engine = make_engine(self.database_url)
        try:
            async with make_sessionmaker(engine)() as s:
                return list(
                    (await s.scalars(select(OutboundMessage).order_by(OutboundMessage.id))).all()
                )
        finally:
            await engine.dispose()


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with sandbox_and_serve(database_url, tmp_path) as (platform, serve):
        yield World(platform, serve, database_url)


async def test_killed_before_the_reply_left_then_restarted_sends_it_once(world: World) -> None:
    # Zalo's API hangs on the reply, so the process dies with the event acknowledged and the reply unsent.
    world.platform.timeout_fault_seconds = 3600
    world.platform.inject("/v3.0/oa/message/cs", "timeout")
    emission = await world.platform.user_send_text(
        BA_SAU, "hộ cận nghèo vay vốn lãi suất bao nhiêu"
    )
    assert emission.status == 200

    async def stuck_sending() -> bool:
        return any(m.status == OutboxStatus.SENDING for m in await world.outbound())

    await eventually(stuck_sending, what="the reply to be under way")
    world.serve.kill()
    assert world.oa_texts(BA_SAU) == []
    await world.serve.start()
    await eventually(lambda: world.oa_texts(BA_SAU), timeout=20, what="the reply after the restart")
    await world.platform.wait_idle()
    assert len(world.oa_texts(BA_SAU)) == 1
    [row] = await world.outbound()
    assert row.status == OutboxStatus.SENT and row.zalo_message_id


async def test_after_a_restart_the_rotated_refresh_token_is_used(world: World) -> None:
    world.platform.expire_access_tokens()
    await world.platform.user_send_text(BA_SAU, "vneid là gì")
    await eventually(lambda: world.oa_texts(BA_SAU), timeout=20, what="the answer after a refresh")
    first_refresh = world.serve.env["ZALO_REFRESH_TOKEN"]
    assert not world.platform.refresh_token_alive(first_refresh)  # used once, dead now

    world.serve.kill()
    await world.serve.start()  # the environment still names the first (dead) pair
    world.platform.expire_access_tokens()
    await world.platform.user_send_text(BA_SAU, "làm mất thẻ bhyt thì sao")
    await eventually(
        lambda: len(world.oa_texts(BA_SAU)) == 2, timeout=20, what="the answer after the restart"
    )
    engine = make_engine(world.database_url)
    async with make_sessionmaker(engine)() as s:
        token = await s.scalar(select(ZaloToken))
    await engine.dispose()
    assert token is not None and world.platform.refresh_token_alive(token.refresh_token)
    log = world.serve.log.read_text()
    assert "refused" not in log.lower()


async def test_killed_after_zalo_accepted_but_before_recording_is_not_sent_again(
    world: World,
) -> None:
    # Zalo carries the send out but the answer never arrives; the process dies before recording it.
    world.platform.inject("/v3.0/oa/message/cs", "drop_answer")
    await world.platform.user_send_text(BA_SAU, "thẻ bhyt hộ nghèo có mất tiền không")
    await eventually(lambda: world.oa_texts(BA_SAU), timeout=20, what="the send to reach Zalo")
    world.serve.kill()
    [row] = await world.outbound()
    assert (
        row.status == OutboxStatus.SENDING and row.zalo_message_id is None
    )  # the unknowable moment
    await world.serve.start()
    # The documented rule: read the chat back; the copy is there, so it is recorded, not resent.

    async def recorded() -> bool:
        rows = await world.outbound()
        return rows[0].status == OutboxStatus.SENT

    await eventually(recorded, timeout=20, what="the send to be recorded as sent")
    await world.platform.wait_idle()
    assert len(world.oa_texts(BA_SAU)) == 1
    [row] = await world.outbound()
    assert row.zalo_message_id == world.platform.chat_json(BA_SAU)[-1]["msg_id"]


async def test_a_lost_answer_without_a_crash_is_settled_by_reading_the_chat_back(
    world: World,
) -> None:
    world.platform.inject("/v3.0/oa/message/cs", "drop_answer")
    await world.platform.user_send_text(BA_SAU, "vneid là gì")
    await eventually(lambda: world.oa_texts(BA_SAU), timeout=20, what="the send to reach Zalo")

    async def recorded() -> bool:
        rows = await world.outbound()
        return bool(rows) and rows[0].status == OutboxStatus.SENT

    await eventually(recorded, timeout=20, what="the send to be recorded")
    await world.platform.wait_idle()
    assert len(world.oa_texts(BA_SAU)) == 1
