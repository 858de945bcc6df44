"""Bad campaign requests: every problem said at once, in Vietnamese, and nothing stored or sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.config import Settings
from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import Hamlet, Resident, Staff
from bot.outbound.models import OutboundMessage
from bot.outbound.replies import Replies
from bot.sandbox.seed import seed_demo
from broadcasts.campaigns import CampaignError, CampaignRequest, Deps, create_campaign
from broadcasts.models import Broadcast, Campaign
from broadcasts.render import AnnouncementTemplates
from broadcasts.timing import parse_recurrence


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[tuple[object, Deps, FakeClock]]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    clock = FakeClock()
    async with sessions() as s:
        await seed_demo(s, clock.now())
        await s.commit()
    settings = Settings.from_env({})
    deps = Deps(
        AnnouncementTemplates(settings.templates_dir / "announcements"),
        Replies(settings.templates_dir),
        settings.base_url,
    )
    yield sessions, deps, clock
    await engine.dispose()


async def staff(s, zalo_id: str) -> Staff:  # type: ignore[no-untyped-def]
    found = await s.scalar(select(Staff).where(Staff.zalo_user_id == zalo_id))
    assert found is not None
    return found


async def nothing_stored(s) -> None:  # type: ignore[no-untyped-def]
    for model in (Campaign, Broadcast, OutboundMessage):
        assert await s.scalar(select(func.count()).select_from(model)) == 0


async def test_every_problem_is_listed_and_nothing_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    sessions, deps, clock = world
    async with sessions() as s:
        official = await staff(s, "3000000000000000007")
        request = CampaignRequest(
            title="Họp",
            template="hop-thon",
            variables={"date": "thứ Sáu 20/11", "ngay_le": "x"},
            author_staff_id=official.id,
            send_at=clock.now() - timedelta(hours=1),
            skip_approval=True,
        )
        with pytest.raises(CampaignError) as err:
            await create_campaign(s, request, deps, clock.now())
        text = "\n".join(err.value.problems)
        for expected in ("Giờ họp", "Nơi họp", "Nội dung họp", "ngay_le", "khẩn", "đã qua"):
            assert expected in text, text
        await s.rollback()
        await nothing_stored(s)


async def test_a_head_cannot_create_and_a_recurrence_that_never_fires_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    sessions, deps, clock = world
    async with sessions() as s:
        head = await staff(s, "3000000000000000001")
        request = CampaignRequest(
            title="Nhắc",
            template="thong-bao-chung",
            variables={"title": "Nhắc", "body": "Nội dung"},
            author_staff_id=head.id,
            recurrence=parse_recurrence("hằng tháng ngày 31 lúc 8h"),
            send_at=clock.now() + timedelta(days=1),
            ends_on=date(2026, 11, 29),
        )
        with pytest.raises(CampaignError) as err:
            await create_campaign(s, request, deps, clock.now())
        text = "\n".join(err.value.problems)
        assert "Chỉ cán bộ xã" in text
        assert "31" in text
        await s.rollback()
        await nothing_stored(s)


async def test_no_reachable_target_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    sessions, deps, clock = world
    async with sessions() as s:
        official = await staff(s, "3000000000000000007")
        tan_lap = await s.scalar(select(Hamlet).where(Hamlet.name == "Ấp Tân Lập"))
        assert tan_lap is not None
        tan_lap.group_id = None  # no group, and nobody wrote to the OA this week
        await s.flush()
        assert (
            await s.scalar(
                select(func.count())
                .select_from(Resident)
                .where(Resident.last_interaction_at.is_not(None))
            )
            == 0
        )
        request = CampaignRequest(
            title="Nhắc",
            template="thong-bao-chung",
            variables={"title": "Nhắc", "body": "Nội dung"},
            author_staff_id=official.id,
            hamlet_ids=[tan_lap.id],
        )
        with pytest.raises(CampaignError) as err:
            await create_campaign(s, request, deps, clock.now())
        assert "Không có người nhận nào" in err.value.problems[0]
