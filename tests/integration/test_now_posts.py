"""A post sent "now" goes to each hamlet as its head approves; quiet hours hold it, never miss it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.clock import VN_TZ, FakeClock
from bot.directory.models import Staff
from broadcasts.campaigns import CampaignRequest, create_campaign
from broadcasts.models import Broadcast, HamletApproval, Status
from broadcasts.setup import deps_for, run_tick
from broadcasts.timing import parse_recurrence
from tests.integration.test_announcements import COMMUNE_GROUP, GROUPS, HEADS, OFFICIAL
from tests.service import Service, running_service

BODY = "Từ 8h00 đến 16h00 thứ Năm, trạm cấp nước sửa ống."


def vn(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Vietnam, in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=VN_TZ)


def got_it(svc: Service, hamlet: str) -> bool:
    """Whether the hamlet's Zalo group has received the announcement."""
    return any(
        m.get("from") == "oa" and BODY in m["text"]
        for m in svc.platform.group_chat_json(GROUPS[hamlet])
    )


def approval_requests(svc: Service) -> dict[str, dict[str, str]]:
    """The approval requests in the commune group, by hamlet."""
    oa = [m for m in svc.platform.group_chat_json(COMMUNE_GROUP) if m.get("from") == "oa"]
    return {
        name: m
        for m in oa
        for name in HEADS
        if "[Duyệt thông báo]" in m["text"] and name in m["text"]
    }


async def post_now(svc: Service) -> dict[str, dict[str, str]]:
    """An official posts "#thongbao" with no time; the approval requests by hamlet."""
    await svc.platform.user_send_group_text(
        COMMUNE_GROUP, OFFICIAL, f"#thongbao Tạm ngưng cấp nước\n{BODY}"
    )
    await svc.settled()
    return approval_requests(svc)


async def approve(svc: Service, requests: dict[str, dict[str, str]], hamlet: str) -> None:
    await svc.platform.user_send_group_text(
        COMMUNE_GROUP, HEADS[hamlet], "1", requests[hamlet]["msg_id"]
    )
    await svc.settled()
    await tick(svc)


async def tick(svc: Service) -> None:
    await run_tick(svc.runtime)
    await svc.settled()
    await run_tick(svc.runtime)  # a second pass: a fan-out written, a firing finished
    await svc.settled()


async def statuses(svc: Service) -> tuple[str, dict[int, str]]:
    async with svc.runtime.sessions() as s:
        firing = await s.scalar(select(Broadcast))
        assert firing is not None
        approvals = (await s.scalars(select(HamletApproval))).all()
        return firing.status, {a.hamlet_id: a.status for a in approvals}


def author_texts(svc: Service) -> str:
    return "\n".join(
        m["text"] for m in svc.platform.group_chat_json(COMMUNE_GROUP) if m.get("from") == "oa"
    ) + "\n".join(svc.oa_texts(OFFICIAL))


async def test_in_the_afternoon_each_hamlet_gets_it_as_its_head_approves(
    database_url: str,
) -> None:
    clock = FakeClock(vn(3, 15).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        requests = await post_now(svc)
        assert set(requests) == set(HEADS)
        request = requests["Ấp Tân Lập"]["text"]
        assert "gửi ngay tới từng ấp khi được duyệt" in request and "Hạn duyệt: 15h30" in request
        assert "gửi lúc 15h00" not in request  # no send time before the deadline
        told = author_texts(svc)
        assert "gửi ngay tới từng ấp khi được duyệt. Hạn duyệt: 15h30" in told

        clock.advance(timedelta(minutes=2))
        await approve(svc, requests, "Ấp Tân Lập")
        assert got_it(svc, "Ấp Tân Lập")  # at once, the others still to answer
        assert not got_it(svc, "Ấp Tân Thạnh")

        clock.advance(timedelta(minutes=18))
        await approve(svc, requests, "Ấp Tân Thạnh")
        assert got_it(svc, "Ấp Tân Thạnh")
        assert not got_it(svc, "Ấp Hòa Bình")
        status, _ = await statuses(svc)
        assert status == Status.SENDING  # still open for Hòa Bình until 15h30

        clock.set(vn(3, 15, 31))
        await tick(svc)
        status, by_hamlet = await statuses(svc)
        assert status == Status.SENT
        assert sorted(by_hamlet.values()).count(Status.MISSED) == 2  # Hòa Bình, Phú Lợi
        assert not got_it(svc, "Ấp Hòa Bình")
        assert "[Hết hạn duyệt]" in author_texts(svc)

        # Too late now: the head is told so, and nothing goes out.
        await svc.platform.user_send_group_text(
            COMMUNE_GROUP, HEADS["Ấp Hòa Bình"], "1", requests["Ấp Hòa Bình"]["msg_id"]
        )
        await svc.settled()
        assert "Đã quá hạn duyệt" in svc.platform.group_chat_json(COMMUNE_GROUP)[-1]["text"]
        await tick(svc)
        assert not got_it(svc, "Ấp Hòa Bình")


async def test_at_ten_to_nine_quiet_hours_hold_it_until_six_and_never_miss_it(
    database_url: str,
) -> None:
    clock = FakeClock(vn(3, 20, 50).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        requests = await post_now(svc)
        request = requests["Ấp Tân Lập"]["text"]
        assert "duyệt sau 21h thì gửi lúc 6h thứ Sáu 04/12/2026" in request
        assert "Hạn duyệt: 6h thứ Sáu 04/12/2026" in request

        clock.advance(timedelta(minutes=5))
        await approve(svc, requests, "Ấp Tân Lập")
        assert got_it(svc, "Ấp Tân Lập")  # before 21h: at once

        clock.set(vn(3, 22))
        await approve(svc, requests, "Ấp Tân Thạnh")
        assert not got_it(svc, "Ấp Tân Thạnh")  # held by quiet hours

        clock.set(
            vn(
                4,
                6,
                0,
            )
        )
        await tick(svc)
        assert got_it(svc, "Ấp Tân Thạnh")
        status, by_hamlet = await statuses(svc)
        assert status == Status.SENT and Status.MISSED in by_hamlet.values()
        assert "[Bỏ lỡ]" not in author_texts(svc)


async def test_posted_at_night_it_waits_for_six_and_goes_to_every_hamlet_approved_by_then(
    database_url: str,
) -> None:
    clock = FakeClock(vn(3, 22).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        requests = await post_now(svc)
        # Quiet hours already: it is simply due at 06:00, like any send set for that time.
        assert "gửi lúc 6h thứ Sáu 04/12/2026" in requests["Ấp Tân Lập"]["text"]
        clock.set(vn(3, 23))
        await approve(svc, requests, "Ấp Tân Lập")
        assert not got_it(svc, "Ấp Tân Lập")
        clock.set(vn(4, 6, 0))
        await tick(svc)
        assert got_it(svc, "Ấp Tân Lập")
        status, _ = await statuses(svc)
        assert status == Status.SENT


async def create(svc: Service, **extra: object) -> None:
    """A campaign by the official with BODY as its text, created at the clock's time."""
    rt = svc.runtime
    async with rt.sessions() as s:
        official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
        assert official is not None
        await create_campaign(
            s,
            CampaignRequest(
                title="Tạm ngưng cấp nước",
                template="thong-bao-chung",
                variables={"title": "Tạm ngưng cấp nước", "body": BODY},
                author_staff_id=official.id,
                **extra,  # type: ignore[arg-type]
            ),
            deps_for(rt),
            rt.clock.now(),
        )
        await s.commit()
    await svc.settled()


async def test_a_send_set_just_before_nine_that_the_night_holds_goes_at_six(
    database_url: str,
) -> None:
    clock = FakeClock(vn(3, 15).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        await create(svc, send_at=vn(3, 20, 59))
        requests = approval_requests(svc)
        assert "gửi lúc 20h59" in requests["Ấp Tân Lập"]["text"]
        await approve(svc, requests, "Ấp Tân Lập")
        clock.set(vn(3, 21, 1))  # the tick came after 21:00: the night holds it
        await tick(svc)
        assert not got_it(svc, "Ấp Tân Lập")
        clock.set(vn(4, 6, 0))
        await tick(svc)
        assert got_it(svc, "Ấp Tân Lập")
        status, _ = await statuses(svc)
        assert status == Status.SENT


async def test_an_urgent_post_at_night_goes_at_once_to_every_hamlet(database_url: str) -> None:
    clock = FakeClock(vn(3, 22).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        await create(svc, urgent=True, skip_approval=True)
        await tick(svc)
        assert all(got_it(svc, hamlet) for hamlet in HEADS)
        assert not approval_requests(svc)  # nobody was asked


async def test_a_weekly_send_the_night_holds_goes_at_six_and_the_next_week_stays_due(
    database_url: str,
) -> None:
    clock = FakeClock(vn(3, 15).astimezone(VN_TZ))  # a Thursday
    async with running_service(database_url, clock=clock) as svc:
        await create(svc, recurrence=parse_recurrence("hằng tuần vào thứ Năm lúc 20h55"))
        requests = approval_requests(svc)
        assert "gửi lúc 20h55 thứ Năm 03/12/2026" in requests["Ấp Tân Lập"]["text"]
        await approve(svc, requests, "Ấp Tân Lập")
        clock.set(vn(3, 21, 2))
        await tick(svc)
        assert not got_it(svc, "Ấp Tân Lập")
        clock.set(vn(4, 6, 0))
        await tick(svc)
        assert got_it(svc, "Ấp Tân Lập")
        async with svc.runtime.sessions() as s:
            firings = (await s.scalars(select(Broadcast).order_by(Broadcast.fire_at))).all()
        assert [f.status for f in firings] == [Status.SENT, Status.AWAITING]
        assert firings[1].fire_at == vn(10, 20, 55)
