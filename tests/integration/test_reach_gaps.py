"""Who an announcement did not reach 1:1, and why: per firing and hamlet, for the people running it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import func, select

from bot.__main__ import _parser
from bot.clock import VN_TZ, FakeClock
from bot.directory.models import Hamlet
from broadcasts.cli.campaigns import run
from broadcasts.models import Broadcast, Household, HouseholdCategory, HouseholdMember
from broadcasts.reach_gaps import ReachGaps, firing_gaps
from tests.desk import Visitor
from tests.integration.test_now_posts import approve, author_texts, post_now, tick, vn
from tests.service import Service, running_service

BA_SAU = "4000000000000000001"  # Ấp Tân Lập, household TL-01 (poor)
CHU_BAY = "4000000000000000002"  # Ấp Tân Lập, household TL-02
CHI_HAI = "4000000000000000003"  # Ấp Tân Thạnh, household TL-01


async def loa(svc: Service, clock: FakeClock, *argv: str) -> str:
    """What `loa campaign …` prints for the service's database."""
    out = io.StringIO()
    args = _parser().parse_args(["campaign", *argv])
    assert await run(args, svc.runtime.settings, svc.runtime.sessions, out, clock) == 0
    return out.getvalue()


async def test_each_hamlet_says_who_got_no_copy_of_their_own_and_why(database_url: str) -> None:
    clock = FakeClock(vn(3, 15).astimezone(VN_TZ))
    async with running_service(database_url, clock=clock) as svc:
        # Bà Sáu wrote to the OA this week; Chú Bảy did too, then asked to stop; Chị Hai
        # unfollowed. The heads and the digital team have not written to the OA 1:1.
        await svc.platform.user_send_text(BA_SAU, "vay vốn hộ nghèo")
        await svc.platform.user_send_text(CHU_BAY, "ngừng nhận")
        await svc.platform.unfollow(CHI_HAI)
        await svc.settled()
        clock.advance(timedelta(minutes=1))
        requests = await post_now(svc)
        await approve(svc, requests, "Ấp Tân Lập")
        await approve(svc, requests, "Ấp Tân Thạnh")
        clock.set(vn(3, 15, 31))  # the others miss the deadline; the firing finishes
        await tick(svc)

        async with svc.runtime.sessions() as s:
            firing = await s.scalar(select(Broadcast))
            assert firing is not None
            gaps = {g.hamlet: g for g in await firing_gaps(s, firing.id)}
        assert set(gaps) == {"Ấp Tân Lập", "Ấp Tân Thạnh"}
        # Tân Lập: Bà Sáu alone 1:1; Chú Bảy opted out; the head and the digital team are
        # outside Zalo's 7-day window. Of its 6 households only TL-01 has a 1:1 copy, and
        # TL-05, TL-06 have nobody on Zalo.
        assert gaps["Ấp Tân Lập"].gaps == ReachGaps(
            one_to_one=1,
            outside_window=2,
            opted_out=1,
            not_following=0,
            households=6,
            households_without_copy=5,
            households_off_zalo=2,
        )
        assert gaps["Ấp Tân Thạnh"].gaps.not_following == 1
        assert gaps["Ấp Tân Thạnh"].gaps.one_to_one == 0 and gaps["Ấp Tân Thạnh"].group_sent

        report = author_texts(svc)
        assert (
            "Ấp Tân Lập: 1 người được gửi tin riêng; 3 người chỉ có thể nhận qua nhóm "
            "(2 quá 7 ngày chưa nhắn OA, 1 đã ngừng nhận); "
            "5/6 hộ chưa có ai được gửi tin riêng, trong đó 2 hộ chưa có ai liên kết Zalo" in report
        )
        assert "1 đã bỏ quan tâm OA" in report

        # `loa campaign show`, `loa campaign reach` and the desk's campaign page say the same.
        why = "1 người được gửi tin riêng; 3 người chỉ có thể nhận qua nhóm (2 quá 7 ngày chưa nhắn OA"
        shown = await loa(svc, clock, "show", "1")
        assert "Tiếp cận Ấp Tân Lập: 0/6 hộ (0%)" in shown and why in shown
        table = list(csv.reader(io.StringIO(await loa(svc, clock, "reach"))))
        header, rows = table[0], {row[3]: row for row in table[1:]}
        assert header[-6:] == [
            "Người được gửi tin riêng",
            "Không được gửi tin riêng: quá 7 ngày chưa nhắn OA",
            "Không được gửi tin riêng: đã ngừng nhận",
            "Không được gửi tin riêng: đã bỏ quan tâm OA",
            "Hộ chưa có ai được gửi tin riêng",
            "Hộ chưa có ai liên kết Zalo",
        ]
        assert rows["Ấp Tân Lập"][-6:] == ["1", "2", "1", "0", "5", "2"]
        assert rows["Ấp Hòa Bình"][-6:] == [""] * 6  # never approved: no copies written
        async with Visitor(svc) as office:
            assert await office.sign_in() == 303
            _, page, _ = await office.get("/admin/campaigns/1")
            assert "Ai chưa được gửi tin riêng, và vì sao" in page and why in page


async def test_the_demo_commune_has_households_in_every_hamlet_linked_to_its_people(
    database_url: str,
) -> None:
    async with running_service(database_url, clock=FakeClock()) as svc, svc.runtime.sessions() as s:
        rows = (
            await s.execute(
                select(Hamlet.name, Household.category, func.count(HouseholdMember.id))
                .join(Household, Household.hamlet_id == Hamlet.id)
                .outerjoin(HouseholdMember, HouseholdMember.household_id == Household.id)
                .group_by(Hamlet.name, Household.id, Household.category)
            )
        ).all()
    hamlets = {name for name, _, _ in rows}
    assert hamlets == {"Ấp Tân Lập", "Ấp Tân Thạnh", "Ấp Hòa Bình", "Ấp Phú Lợi"}
    for hamlet in hamlets:
        mine = [(category, members) for name, category, members in rows if name == hamlet]
        assert any(c == HouseholdCategory.POOR for c, _ in mine)  # poor-household reach has a base
        assert any(m for _, m in mine) and any(not m for _, m in mine)  # on Zalo, and not
