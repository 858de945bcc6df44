"""Several communes sharing one OA: each one's people, hamlets and announcements stay its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import FakeClock
from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole
from broadcasts.campaigns import CampaignRequest, create_campaign
from broadcasts.models import Campaign
from broadcasts.setup import deps_for, run_tick
from tests.service import Service, running_service

PHU_AN_HEAD, PHU_AN_OFFICIAL, PHU_AN_RESIDENT = (
    "6000000000000000001",
    "6000000000000000002",
    "6000000000000000003",
)
PHU_AN_GROUP = "6000000000000000100"
BA_SAU = "4000000000000000001"


async def add_second_commune(svc: Service) -> None:
    now = svc.runtime.clock.now()
    async with svc.runtime.sessions() as s:
        commune = Commune(slug="phu-an", name="Xã Phú An", hamlet_word="thôn", created_at=now)
        s.add(commune)
        await s.flush()
        hamlet = Hamlet(
            commune_id=commune.id, name="Thôn Đông", language="vi", group_id=PHU_AN_GROUP
        )
        s.add(hamlet)
        await s.flush()
        s.add(
            Staff(
                commune_id=commune.id,
                hamlet_id=hamlet.id,
                zalo_user_id=PHU_AN_HEAD,
                name="Hà Văn Đông",
                role=StaffRole.HAMLET_HEAD,
                active=True,
            )
        )
        s.add(
            Staff(
                commune_id=commune.id,
                hamlet_id=None,
                zalo_user_id=PHU_AN_OFFICIAL,
                name="Lò Thị Tây",
                role=StaffRole.OFFICIAL,
                active=True,
            )
        )
        await s.commit()
    for user, name in (
        (PHU_AN_HEAD, "Hà Văn Đông"),
        (PHU_AN_OFFICIAL, "Lò Thị Tây"),
        (PHU_AN_RESIDENT, "Bà Tư"),
    ):
        svc.platform.add_user(user, name, follower=True, last_interaction=now - timedelta(days=1))
    svc.platform.add_group(PHU_AN_GROUP, "Thôn Đông - Xã Phú An", [PHU_AN_HEAD, PHU_AN_RESIDENT])


async def phu_an_meeting(
    s: AsyncSession, svc: Service, official: Staff, clock: FakeClock
) -> Campaign:
    """Phú An's official announces a meeting (committed)."""
    campaign = await create_campaign(
        s,
        CampaignRequest(
            title="Họp thôn Đông",
            template="thong-bao-chung",
            variables={"title": "Họp thôn", "body": "Mời bà con dự họp."},
            author_staff_id=official.id,
        ),
        deps_for(svc.runtime),
        clock.now(),
    )
    await s.commit()
    return campaign


async def test_registration_offers_every_communes_hamlets_and_announcements_stay_in_their_commune(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        await add_second_commune(svc)
        await svc.platform.user_send_text(PHU_AN_RESIDENT, "đăng ký ấp")
        await svc.settled()
        question = svc.oa_texts(PHU_AN_RESIDENT)
        assert question, "the hamlet question"
        assert "Thôn Đông (Xã Phú An)" in question[-1] and "Ấp Tân Lập (Xã Tân Hòa)" in question[-1]
        await svc.platform.user_send_text(PHU_AN_RESIDENT, "thon dong")
        await svc.settled()
        assert "Thôn Đông" in svc.oa_texts(PHU_AN_RESIDENT)[-1], "saved"
        await svc.platform.user_send_text(BA_SAU, "chào")
        await svc.platform.user_send_text(PHU_AN_HEAD, "chào")
        await svc.settled()
        async with svc.runtime.sessions() as s:
            resident = await s.scalar(
                select(Resident).where(Resident.zalo_user_id == PHU_AN_RESIDENT)
            )
            phu_an = await s.scalar(select(Commune).where(Commune.slug == "phu-an"))
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == PHU_AN_OFFICIAL))
            assert resident is not None and phu_an is not None and official is not None
            assert resident.commune_id == phu_an.id
            campaign = await phu_an_meeting(s, svc, official, clock)
            assert campaign.commune_id == phu_an.id
        svc.runtime.outbox.wake()
        await svc.settled()
        assert "[Duyệt thông báo]" in svc.oa_texts(PHU_AN_HEAD)[-1], "the request"
        await svc.platform.user_send_text(PHU_AN_HEAD, "1")
        await svc.settled()
        clock.advance(timedelta(minutes=1))
        for _ in range(2):
            await run_tick(svc.runtime)
            await svc.settled()
        assert "Mời bà con dự họp" in svc.oa_texts(PHU_AN_RESIDENT)[-1]
        assert all("Mời bà con dự họp" not in t for t in svc.oa_texts(BA_SAU))
        assert [m for m in svc.platform.group_chat_json(PHU_AN_GROUP) if m.get("from") == "oa"]
        for group in ("5000000000000000100", "5000000000000000101"):
            assert all("dự họp" not in m["text"] for m in svc.platform.group_chat_json(group))


async def test_the_cli_asks_which_commune_when_there_are_several(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import io

    from broadcasts.cli.campaigns import run

    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        await add_second_commune(svc)
        async with svc.runtime.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == PHU_AN_OFFICIAL))
            assert official is not None
            await phu_an_meeting(s, svc, official, clock)
        out = io.StringIO()
        args = argparse.Namespace(command="campaign", campaign_command="list", commune=None)
        assert await run(args, svc.runtime.settings, svc.runtime.sessions, out) == 1
        assert out.getvalue() == ""
        asked = capsys.readouterr().err
        assert "--commune" in asked and "phu-an" in asked and "tan-hoa" in asked
        for wanted in ("phu-an", "Phú An", "xa phu an"):
            args.commune = wanted
            assert await run(args, svc.runtime.settings, svc.runtime.sessions, out) == 0
            assert "Họp thôn Đông" in out.getvalue()
            out.seek(0)
            out.truncate()
        args.commune = "tan-hoa"
        assert await run(args, svc.runtime.settings, svc.runtime.sessions, out) == 0
        assert "Họp thôn Đông" not in out.getvalue()  # the other commune's campaigns stay out
