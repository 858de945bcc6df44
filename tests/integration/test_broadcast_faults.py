"""A broadcast under faults: the process killed mid-drain, Zalo misbehaving, the clock jumping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import jobs
from bot.clock import FakeClock, SystemClock
from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import Hamlet, Resident, Staff
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.replies import Replies
from bot.sandbox.demo import HAMLETS
from bot.sandbox.platform import SandboxPlatform
from broadcasts import scheduler
from broadcasts.campaigns import CampaignRequest, Deps, create_campaign
from broadcasts.models import Broadcast, Delivery, Status
from broadcasts.render import AnnouncementTemplates
from broadcasts.setup import deps_for, run_tick
from broadcasts.timing import Recurrence
from tests.service import (
    REPO,
    ServeProcess,
    Service,
    eventually,
    running_service,
    sandbox_and_serve,
)

OFFICIAL = "3000000000000000007"
GROUP_IDS = [group_id for _, _, group_id in HAMLETS]
ONCE, NEVER = [1] * len(GROUP_IDS), [0] * len(GROUP_IDS)
WARNING = {
    "scam": "Có người gọi điện xưng là cán bộ xã và bảo bà con đọc mã OTP để nhận tiền hỗ trợ",
    "contact": "Công an xã, 0276 3 812 345",
}


async def add_residents(
    sessions: async_sessionmaker[AsyncSession], platform: SandboxPlatform, count: int, now: datetime
) -> list[str]:
    """Residents spread over the demo hamlets who wrote to the OA today: Zalo lets the OA reach them 1:1."""
    async with sessions() as session:
        hamlets = list((await session.scalars(select(Hamlet).order_by(Hamlet.id))).all())
        users = []
        for i in range(count):
            user_id = str(4100000000000000000 + i)
            hamlet = hamlets[i % len(hamlets)]
            session.add(
                Resident(
                    zalo_user_id=user_id,
                    display_name=f"Cư dân {i}",
                    commune_id=hamlet.commune_id,
                    hamlet_id=hamlet.id,
                    is_follower=True,
                    last_interaction_at=now,
                    opted_out=False,
                    created_at=now,
                )
            )
            platform.add_user(user_id, f"Cư dân {i}", last_interaction=now, hamlet=hamlet.name)
            users.append(user_id)
        await session.commit()
    return users


async def urgent_warning(
    sessions: async_sessionmaker[AsyncSession], deps: Deps, now: datetime, **extra: object
) -> int:
    """An urgent scam warning to every hamlet, group and 1:1, sent without approval; returns its campaign."""
    async with sessions() as session:
        official = await session.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
        assert official is not None
        request = CampaignRequest(
            title="Cảnh báo lừa đảo",
            template="canh-bao-lua-dao",
            variables=dict(WARNING),
            author_staff_id=official.id,
            urgent=True,
            skip_approval=True,
        )
        for name, value in extra.items():
            setattr(request, name, value)
        campaign = await create_campaign(session, request, deps, now)
        await session.commit()
        return campaign.id


async def firing_of(sessions: async_sessionmaker[AsyncSession], campaign_id: int) -> Broadcast:
    async with sessions() as session:
        broadcast = await session.scalar(
            select(Broadcast).where(Broadcast.campaign_id == campaign_id)
        )
        assert broadcast is not None
        return broadcast


async def delivery_rows(
    sessions: async_sessionmaker[AsyncSession], broadcast_id: int
) -> list[OutboundMessage]:
    async with sessions() as session:
        return list(
            (
                await session.scalars(
                    select(OutboundMessage)
                    .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
                    .where(Delivery.broadcast_id == broadcast_id)
                )
            ).all()
        )


def copies(
    platform: SandboxPlatform, code: str, *, user: str | None = None, group: str | None = None
) -> int:
    """How many messages carrying a firing's code the OA sent to one user or one group."""
    messages = platform.chats.get(user, []) if user else platform.groups[str(group)].messages
    return sum(1 for m in messages if m.from_oa and code in m.text)


def assert_exactly_once(platform: SandboxPlatform, code: str, users: list[str]) -> None:
    twice = [u for u in users if copies(platform, code, user=u) != 1]
    assert twice == [], f"{len(twice)} residents did not get exactly one copy: {twice[:5]}"
    for group in GROUP_IDS:
        assert copies(platform, code, group=group) == 1, f"group {group}"


# ------------------------------------------------------------------ killed mid-broadcast


@dataclass
class World:
    """A sandbox served in this process and a real `loa serve` process pointed at it."""

    platform: SandboxPlatform
    serve: ServeProcess
    sessions: async_sessionmaker[AsyncSession]
    deps: Deps


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    # 25 sends a second: the drain lasts long enough to be cut.
    async with sandbox_and_serve(database_url, tmp_path, ZALO_RATE_PER_MINUTE="1500") as (
        platform,
        serve,
    ):
        engine = make_engine(database_url)
        templates = REPO / "templates"
        deps = Deps(
            AnnouncementTemplates(templates / "announcements"),
            Replies(templates),
            f"http://127.0.0.1:{serve.port}",
        )
        try:
            yield World(platform, serve, make_sessionmaker(engine), deps)
        finally:
            await engine.dispose()


async def test_killed_mid_broadcast_then_restarted_sends_every_copy_once(world: World) -> None:
    clock = SystemClock()
    users = await add_residents(world.sessions, world.platform, 150, clock.now())
    campaign_id = await urgent_warning(world.sessions, world.deps, clock.now())
    # One send hangs (Zalo never processes it) and one is carried out with its answer lost: at the
    # kill, both rows are left in SENDING with their outcomes unknown.
    world.platform.timeout_fault_seconds = 3600
    world.platform.inject("/v3.0/oa/message/cs", "drop_answer")
    world.platform.inject("/v3.0/oa/message/cs", "timeout")
    await scheduler.tick(world.sessions, world.deps, clock.now())  # fans out; the service drains
    broadcast = await firing_of(world.sessions, campaign_id)
    assert broadcast.status == Status.SENDING and broadcast.fanned_out

    async def half_way() -> bool:
        rows = await delivery_rows(world.sessions, broadcast.id)
        sent = sum(r.status == OutboxStatus.SENT for r in rows)
        return sent >= 40 and any(r.status == OutboxStatus.SENDING for r in rows)

    await eventually(half_way, timeout=30, what="the outbox to be half way")
    world.serve.kill()
    rows = await delivery_rows(world.sessions, broadcast.id)
    assert len(rows) == len(users) + len(GROUP_IDS)
    assert any(r.status == OutboxStatus.PENDING for r in rows)  # killed with work left

    await world.serve.start()

    async def drained() -> bool:
        rows = await delivery_rows(world.sessions, broadcast.id)
        return all(r.status not in (OutboxStatus.PENDING, OutboxStatus.SENDING) for r in rows)

    await eventually(drained, timeout=60, what="the rest of the broadcast after the restart")
    await world.platform.wait_idle()
    rows = await delivery_rows(world.sessions, broadcast.id)
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert all(r.zalo_message_id for r in rows)
    assert_exactly_once(world.platform, broadcast.code, users)
    await scheduler.tick(world.sessions, world.deps, clock.now())
    broadcast = await firing_of(world.sessions, campaign_id)
    assert broadcast.status == Status.SENT


# ------------------------------------------------------------------ Zalo misbehaving


def hurry_hung_calls(svc: Service) -> None:
    """A hung call fails after a second here instead of Zalo's fifteen, to keep a test quick."""
    svc.runtime.zalo._timeout = aiohttp.ClientTimeout(total=1.0)
    svc.platform.timeout_fault_seconds = (
        3  # the call is never carried out; the client gives up first
    )


async def drain(svc: Service, clock: FakeClock, broadcast_id: int, *, rounds: int = 120) -> None:
    """Settle every copy of a firing, moving the clock a minute past each retry backoff."""
    outbox = svc.runtime.outbox
    for _ in range(rounds):
        await svc.platform.wait_idle()
        await outbox.drain_once()
        await outbox.wait_idle()
        rows = await delivery_rows(svc.runtime.sessions, broadcast_id)
        if all(r.status not in (OutboxStatus.PENDING, OutboxStatus.SENDING) for r in rows):
            break
        # A retry waits out its backoff; a read-back, the history's lag.
        clock.advance(timedelta(minutes=1))
        await asyncio.wait_for(outbox.wait_rereads(), timeout=30)
    else:
        raise AssertionError(f"the firing did not drain in {rounds} minutes of the clock")
    # Receipts that overtook a send's recording wait for the sweeper; run it now instead of in 30 s.
    clock.advance(timedelta(minutes=1))
    await jobs.sweep_inbox(svc.runtime, timedelta(0))
    await svc.settled()


async def test_every_kind_of_zalo_fault_during_a_broadcast_still_sends_each_copy_once(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        hurry_hung_calls(svc)
        users = await add_residents(rt.sessions, svc.platform, 60, clock.now())
        await svc.platform.user_send_text(OFFICIAL, "chào")
        await svc.settled()
        campaign_id = await urgent_warning(rt.sessions, deps_for(rt), clock.now())
        for prefix in ("/v3.0/oa/message/cs", "/v3.0/oa/group/message"):
            svc.platform.inject(prefix, "-32", 3)  # over the rate limit
            svc.platform.inject(prefix, "5xx", 2)
            svc.platform.inject(prefix, "timeout", 1)
            svc.platform.inject(prefix, "drop_answer", 2)  # carried out, answer lost
            svc.platform.inject(prefix, "-216", 1)  # token invalid: refresh once, retry
            svc.platform.inject(prefix, "disconnect", 1)
        svc.platform.inject("/v2.0/oa/conversation", "5xx", 1)  # reading the chat back fails once
        await run_tick(rt)
        broadcast = await firing_of(rt.sessions, campaign_id)
        await drain(svc, clock, broadcast.id)

        assert svc.platform.faults == []  # every injected fault was met
        rows = await delivery_rows(rt.sessions, broadcast.id)
        assert len(rows) == len(users) + len(GROUP_IDS)
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        assert_exactly_once(svc.platform, broadcast.code, users)
        await run_tick(rt)
        assert (await firing_of(rt.sessions, campaign_id)).status == Status.SENT
        async with rt.sessions() as session:
            unsettled = await session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.status.in_([OutboxStatus.UNCERTAIN, OutboxStatus.FAILED]))
            )
        assert unsettled == 0


# ------------------------------------------------------------------ the clock jumping


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in November 2026, Vietnam time (UTC+7), as aware UTC."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=7)


async def firings(svc: Service, campaign_id: int) -> list[Broadcast]:
    async with svc.runtime.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Broadcast)
                    .where(Broadcast.campaign_id == campaign_id)
                    .order_by(Broadcast.fire_at)
                )
            ).all()
        )


async def tick_and_settle(svc: Service, times: int = 2) -> None:
    """Run the scheduler tick a few times with the clock standing still, letting the outbox drain between."""
    for _ in range(times):
        await run_tick(svc.runtime)
        await svc.settled()


def group_copies(svc: Service, code: str) -> list[int]:
    return [copies(svc.platform, code, group=g) for g in GROUP_IDS]


def missed_notices(svc: Service) -> list[str]:
    return [t for t in svc.oa_texts(OFFICIAL) if t.startswith("[Bỏ lỡ]")]


async def test_recurring_firings_across_a_boundary_and_across_downtime_follow_the_grace_rule(
    database_url: str,
) -> None:
    clock = FakeClock(local(2, 9))  # Monday 09:00
    async with running_service(database_url, clock=clock) as svc:
        await svc.platform.user_send_text(OFFICIAL, "chào")  # the author is reachable 1:1 all week
        await svc.settled()
        campaign_id = await urgent_warning(
            svc.runtime.sessions,
            deps_for(svc.runtime),
            clock.now(),
            channels=["group"],
            recurrence=Recurrence("daily@10:00"),
            send_at=local(2, 10),
        )

        # Down from 09:30 to 10:40: 40 minutes late is within the hour of grace, so it goes late.
        clock.set(local(2, 10, 40))
        await tick_and_settle(svc, 3)
        monday, tuesday = await firings(svc, campaign_id)
        assert monday.status == Status.SENT and monday.started_at == local(2, 10, 40)
        assert group_copies(svc, monday.code) == ONCE
        assert tuesday.fire_at == local(3, 10) and tuesday.status == Status.SCHEDULED

        # Across the boundary: nothing a second before, once just after, and ticks after that add nothing.
        clock.set(local(3, 9, 59, 59))
        await tick_and_settle(svc)
        assert group_copies(svc, tuesday.code) == NEVER
        clock.set(local(3, 10, 0, 1))
        await tick_and_settle(svc, 3)
        clock.advance(timedelta(minutes=5))
        await tick_and_settle(svc, 2)
        monday, tuesday, wednesday = await firings(svc, campaign_id)
        assert tuesday.status == Status.SENT and group_copies(svc, tuesday.code) == ONCE
        assert wednesday.fire_at == local(4, 10) and wednesday.status == Status.SCHEDULED

        # Down past the grace window: Wednesday's firing is missed, the official told once, never sent.
        clock.set(local(4, 11, 0, 1))
        await tick_and_settle(svc, 3)
        _, _, wednesday, thursday = await firings(svc, campaign_id)
        assert wednesday.status == Status.MISSED
        assert group_copies(svc, wednesday.code) == NEVER
        assert len(missed_notices(svc)) == 1 and "04/11/2026" in missed_notices(svc)[0]
        assert thursday.fire_at == local(5, 10) and thursday.status == Status.SCHEDULED

        # Down for two days: Thursday is missed, Friday is skipped, Saturday (20 minutes ago) goes late.
        clock.set(local(7, 10, 20))
        await tick_and_settle(svc, 3)
        clock.advance(timedelta(minutes=1))
        await tick_and_settle(svc, 2)
        rows = await firings(svc, campaign_id)
        assert [(b.fire_at, b.status) for b in rows] == [
            (local(2, 10), Status.SENT),
            (local(3, 10), Status.SENT),
            (local(4, 10), Status.MISSED),
            (local(5, 10), Status.MISSED),
            (local(7, 10), Status.SENT),
            (local(8, 10), Status.SCHEDULED),
        ]
        assert group_copies(svc, rows[4].code) == ONCE
        # One notice for the downtime: Thursday's firing, and Friday's that was never queued.
        assert len(missed_notices(svc)) == 2
        notice = missed_notices(svc)[1]
        assert "05/11/2026" in notice and "và 1 lần gửi sau đó" in notice and "06/11/2026" in notice
        for group in GROUP_IDS:  # three firings went out, each once
            assert sum(1 for m in svc.platform.groups[group].messages if m.from_oa) == 3


async def a_copy_nobody_can_settle(svc: Service, clock: FakeClock) -> tuple[Broadcast, Hamlet]:
    """An urgent firing whose post to one hamlet group timed out and whose chat cannot be read."""
    rt = svc.runtime
    hurry_hung_calls(svc)
    await svc.platform.user_send_text(OFFICIAL, "chào")
    await svc.settled()
    campaign_id = await urgent_warning(rt.sessions, deps_for(rt), clock.now())
    svc.platform.inject("/v3.0/oa/group/message", "timeout", 1)  # the post never reaches the group
    svc.platform.inject("/v3.0/oa/group/conversation", "-201", 1000)  # and its chat cannot be read
    await run_tick(rt)
    broadcast = await firing_of(rt.sessions, campaign_id)
    await rt.outbox.drain_once()
    await rt.outbox.wait_idle()
    assert len(svc.platform.faults) == 1, "the post timed out"
    for _ in range(5):  # the sweep, once a minute: every read of the chat is refused
        clock.advance(timedelta(minutes=3))
        await jobs.resolve_outbox(rt)
    rows = await delivery_rows(rt.sessions, broadcast.id)
    [row] = [r for r in rows if r.status != OutboxStatus.SENT]
    assert row.status == OutboxStatus.UNCERTAIN and row.channel == "group"
    assert copies(svc.platform, broadcast.code, group=row.recipient_id) == 0
    async with rt.sessions() as session:
        hamlet = await session.scalar(select(Hamlet).where(Hamlet.group_id == row.recipient_id))
        assert hamlet is not None
    await run_tick(rt)
    await svc.settled()
    svc.platform.faults.clear()
    return broadcast, hamlet


def reports(svc: Service) -> list[str]:
    return [t for t in svc.oa_texts(OFFICIAL) if t.startswith("[Kết quả gửi]")]


async def settle_copies(
    svc: Service, clock: FakeClock, command: str, firing: int, hamlet: str
) -> str:
    """`loa campaign resend|seen FIRING --hamlet NAME --by OFFICIAL`, on the service's clock."""
    import argparse
    import io

    from broadcasts.cli.campaigns import run

    args = argparse.Namespace(
        command="campaign",
        campaign_command=command,
        firing=firing,
        hamlet=hamlet,
        by=OFFICIAL,
        commune=None,
    )
    out = io.StringIO()
    assert await run(args, svc.runtime.settings, svc.runtime.sessions, out, clock) == 0
    return out.getvalue()


async def test_a_copy_nobody_can_settle_is_named_to_the_author_and_resent_once_after_checking(
    database_url: str,
) -> None:
    import argparse
    import io

    from broadcasts.cli.campaigns import run

    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        broadcast, hamlet = await a_copy_nobody_can_settle(svc, clock)
        [report] = reports(svc)
        assert f"{len(GROUP_IDS) * 1 - 1}/" in report and ", 0 tin lỗi" in report
        assert "Có 1 tin chưa rõ đã đến hay chưa" in report
        assert f"{hamlet.name}: nhóm Zalo" in report
        assert f"loa campaign resend {broadcast.id} --hamlet" in report

        out = io.StringIO()
        show = argparse.Namespace(
            command="campaign", campaign_command="show", id=broadcast.campaign_id, commune=None
        )
        assert await run(show, rt.settings, rt.sessions, out, clock) == 0
        assert (
            f"Chưa rõ đã đến: {hamlet.name}, nhóm Zalo — Không đọc được lịch sử" in out.getvalue()
        )
        async with rt.sessions() as session:  # every copy counted by its state, as the rows hold it
            sent = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
                .where(
                    Delivery.broadcast_id == broadcast.id,
                    OutboundMessage.status == OutboxStatus.SENT,
                )
            )
        assert f"Tin: {sent} đã gửi, 1 chưa rõ đã đến\n" in out.getvalue()

        # The official looked in the group, saw no post, and resends it there: it goes once.
        said = await settle_copies(svc, clock, "resend", broadcast.id, hamlet.name)
        assert "Đã đưa 1 tin" in said
        rt.outbox.wake()
        await svc.settled()
        assert_exactly_once(svc.platform, broadcast.code, [])
        clock.advance(timedelta(seconds=30))
        await run_tick(rt)
        await svc.settled()
        assert len(reports(svc)) == 2 and "chưa rõ" not in reports(svc)[1]
        assert (await firing_of(rt.sessions, broadcast.campaign_id)).status == Status.SENT


async def test_a_copy_the_official_saw_in_zalo_is_recorded_and_never_resent(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        broadcast, hamlet = await a_copy_nobody_can_settle(svc, clock)
        other = next(g for g in GROUP_IDS if g != hamlet.group_id)
        async with svc.runtime.sessions() as session:
            other_hamlet = await session.scalar(select(Hamlet).where(Hamlet.group_id == other))
            assert other_hamlet is not None
        # Another hamlet's name settles nothing: only that hamlet's copies are touched.
        assert "Đã ghi nhận 0 tin" in await settle_copies(
            svc, clock, "seen", broadcast.id, other_hamlet.name
        )
        said = await settle_copies(svc, clock, "seen", broadcast.id, hamlet.name)
        assert "Đã ghi nhận 1 tin đã đến" in said
        await run_tick(svc.runtime)
        await svc.settled()
        rows = await delivery_rows(svc.runtime.sessions, broadcast.id)
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        assert copies(svc.platform, broadcast.code, group=hamlet.group_id) == 0  # nothing resent
        assert len(reports(svc)) == 2 and "chưa rõ" not in reports(svc)[1]
