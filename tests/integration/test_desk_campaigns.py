"""Campaigns on the desk: the list, a campaign's failures and reach, a hamlet's households, exports."""

from __future__ import annotations

import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Hamlet, Staff
from bot.outbound.models import OutboundMessage
from broadcasts.campaigns import CampaignRequest, create_campaign
from broadcasts.delivery import copies_line, unsent_copies
from broadcasts.models import Acknowledgement, Broadcast, Campaign, Status
from broadcasts.setup import deps_for, run_tick
from tests.desk import Visitor, csrf_in, head_signed_in
from tests.integration.test_announcements import (
    BA_SAU,
    CHI_HAI,
    CHU_BAY,
    GROUPS,
    OFFICIAL,
    add_households,
)
from tests.service import Service, running_service


async def scam_warning_sent(svc: Service, clock: FakeClock) -> tuple[int, int, dict[str, int]]:
    """An urgent warning to Tân Lập and Tân Thạnh, whose group is disabled, sent and finished.

    Returns the campaign's id, its firing's id and the hamlets' ids by name."""
    rt = svc.runtime
    await add_households(svc)
    for user in (BA_SAU, CHU_BAY, CHI_HAI, OFFICIAL):
        await svc.platform.user_send_text(user, "chào")
    await svc.settled()
    svc.platform.groups[GROUPS["Ấp Tân Thạnh"]].status = "disabled"  # the GMF plan expired
    async with rt.sessions() as s:
        official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
        hamlets = {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}
        assert official is not None
        info = deps_for(rt).templates.info("canh-bao-lua-dao")
        variables = {v.name: v.example for v in info.variables if v.required}
        campaign = await create_campaign(
            s,
            CampaignRequest(
                title="Cảnh báo lừa đảo vay vốn",
                template="canh-bao-lua-dao",
                variables=variables,
                author_staff_id=official.id,
                hamlet_ids=[hamlets["Ấp Tân Lập"], hamlets["Ấp Tân Thạnh"]],
                urgent=True,
                skip_approval=True,
            ),
            deps_for(rt),
            clock.now(),
        )
        await s.commit()
        campaign_id = campaign.id
    for _ in range(2):
        await run_tick(rt)
        await svc.settled()
    await svc.platform.mark_seen(BA_SAU)
    await svc.settled()
    async with rt.sessions() as s:
        firing = await s.scalar(select(Broadcast.id).where(Broadcast.campaign_id == campaign_id))
    assert firing is not None
    return campaign_id, firing, hamlets


async def test_an_official_sees_each_failure_with_its_reason_and_resends_it(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        campaign_id, firing, hamlets = await scam_warning_sent(svc, clock)
        assert await office.sign_in() == 303

        status, listing, _ = await office.get("/admin/campaigns?q=l%E1%BB%ABa")  # "lừa"
        assert status == 200 and "Cảnh báo lừa đảo vay vốn" in listing
        for typed in ("canh bao lua", "CẢNH BÁO"):
            async with office.http.get(office.url("/admin/campaigns"), params={"q": typed}) as r:
                assert "Cảnh báo lừa đảo vay vốn" in await r.text(), typed
        status, listing, _ = await office.get("/admin/campaigns?q=h%E1%BB%8Dp")  # "họp"
        assert status == 200 and "Cảnh báo lừa đảo vay vốn" not in listing
        assert "Không có đợt thông báo nào khớp với bộ lọc" in listing
        status, listing, _ = await office.get("/admin/campaigns?status=cancelled")
        assert "Cảnh báo lừa đảo vay vốn" not in listing

        path = f"/admin/campaigns/{campaign_id}"
        status, page, _ = await office.get(path)
        assert status == 200
        assert "Tin gửi lỗi" in page and "hết hạn" in page  # the reason Zalo gave, in Vietnamese
        assert f'href="/admin/firings/{firing}/hamlets/{hamlets["Ấp Tân Lập"]}"' in page
        assert "1/4" in page  # Tân Lập: Ba Sáu's household saw the 1:1 copy, of four households
        assert "canh-bao-lua-dao" not in page and "<b>Mẫu:</b> Cảnh báo" in page
        assert "Huỷ đợt này" not in page  # it has been sent: there is nothing left to cancel

        status, _, _ = await office.post(path + "/retry", {"firing": str(firing)})
        assert status == 403  # without its CSRF token, nothing is resent
        svc.platform.groups[GROUPS["Ấp Tân Thạnh"]].status = "enabled"  # the plan is renewed
        token = csrf_in(page)
        status, _, answer = await office.post(
            path + "/retry", {"csrf_token": token, "firing": str(firing)}
        )
        assert status == 303
        _, page, _ = await office.get(answer.headers["Location"])
        assert "Đã xếp 1 tin lỗi để gửi lại." in page
        await svc.settled()
        posts = svc.platform.group_chat_json(GROUPS["Ấp Tân Thạnh"])
        assert [m for m in posts if m.get("from") == "oa"]  # the warning reached the group
        async with svc.runtime.sessions() as s:
            resent = await s.scalar(
                select(OutboundMessage).where(
                    OutboundMessage.recipient_id == GROUPS["Ấp Tân Thạnh"]
                )
            )
            assert resent is not None and resent.status == "sent"
            entries = (
                await s.scalars(select(AuditEntry).where(AuditEntry.entity == "broadcast"))
            ).all()
        assert any("gửi lại 1 tin lỗi" in (e.note or "") for e in entries)

        status, _, _ = await office.post(
            path + "/retry", {"csrf_token": token, "firing": str(firing + 1000)}
        )
        assert status == 404  # a firing of no campaign of this page


async def test_a_head_sees_which_households_to_visit_and_records_them(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        campaign_id, firing, hamlets = await scam_warning_sent(svc, clock)
        await head_signed_in(svc, phone)
        own = f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Lập']}"

        status, page, _ = await phone.get(f"/admin/hamlets/{hamlets['Ấp Tân Lập']}")
        assert status == 200 and f'href="{own}"' in page
        status, page, _ = await phone.get(own)
        assert status == 200 and "3</b>hộ chưa tiếp cận" in page
        assert page.index("Hộ TL-02") < page.index("Hộ TL-01")  # not reached first
        assert "đã xem tin nhắn riêng" in page
        status, missing, _ = await phone.get(own + "?chua=1")
        assert "Hộ TL-01" not in missing and "Hộ TL-03" in missing

        token = csrf_in(page)
        status, _, answer = await phone.post(
            own + "/offline", {"csrf_token": token, "household": "TL-03", "method": "in_person"}
        )
        assert status == 303
        _, page, _ = await phone.get(answer.headers["Location"])
        assert "Đã ghi nhận hộ TL-03" in page and "báo tận nhà" in page
        assert "2</b>hộ chưa tiếp cận" in page

        # Another hamlet's household is not recorded from this page, and nothing is stored.
        status, page, _ = await phone.post(
            own + "/offline", {"csrf_token": token, "household": "TT-02", "method": "meeting"}
        )
        assert status == 400 and "Không có hộ mã TT-02" in page
        async with svc.runtime.sessions() as s:
            offline = (
                await s.scalars(select(Acknowledgement).where(Acknowledgement.kind == "offline"))
            ).all()
        assert len(offline) == 1

        status, data, response = await phone.get(own + "/households.csv")
        assert status == 200 and response.headers["Cache-Control"] == "no-store"
        assert "Hộ TL-01" in data and "Hộ TT-01" not in data and "hộ nghèo" in data

        other = f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Thạnh']}"
        refused = [
            other,
            other + "/households.csv",
            f"/admin/campaigns/{campaign_id}",
            "/admin/campaigns",
            f"/admin/reach.csv?firing={firing}",
        ]
        for path in refused:
            status, _, _ = await phone.get(path)
            assert status == 404, path
        status, _, _ = await phone.post(
            other + "/offline", {"csrf_token": token, "household": "TT-02", "method": "meeting"}
        )
        assert status == 404


async def test_officials_export_counts_and_never_household_names(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        _, firing, hamlets = await scam_warning_sent(svc, clock)
        assert await office.sign_in() == 303
        status, body, _ = await office.get(f"/admin/reach.csv?firing={firing}")
        assert status == 200 and body.startswith("\ufeff")
        assert "Ấp Tân Lập" in body and "TL-01" not in body
        async with office.http.get(office.url(f"/admin/reach.xlsx?firing={firing}")) as r:
            assert r.status == 200
            book = load_workbook(io.BytesIO(await r.read()))
        sheet = book.active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][3] == "Ấp" and {row[3] for row in rows[1:]} == {
            "Ấp Tân Lập",
            "Ấp Tân Thạnh",
        }
        assert all(isinstance(row[4], int) for row in rows[1:])  # numbers stay numbers
        status, _, _ = await office.get(
            f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Lập']}/households.csv"
        )
        assert status == 404  # names go to the hamlet's own head only
        status, body, _ = await office.get("/admin/reach.csv?from=32/13/2026")
        assert status == 400

        # The commune's staff see the households page (they keep the list), but get no file of names.
        status, page, _ = await office.get(
            f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Lập']}"
        )
        assert status == 200 and "Tải danh sách" not in page


async def test_an_official_cancels_a_campaign_from_its_page(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        rt = svc.runtime
        async with rt.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
            assert official is not None
            campaign = await create_campaign(
                s,
                CampaignRequest(
                    title="Họp ấp <b>tháng 12</b>",
                    template="hop-thon",
                    variables={
                        "date": "thứ Sáu 11/12",
                        "time": "19h30",
                        "place": "nhà văn hoá ấp",
                        "agenda": "bình xét hộ nghèo",
                    },
                    author_staff_id=official.id,
                    send_at=clock.now() + timedelta(days=2),
                ),
                deps_for(rt),
                clock.now(),
            )
            await s.commit()
            campaign_id = campaign.id
        await svc.settled()
        assert await office.sign_in() == 303
        path = f"/admin/campaigns/{campaign_id}"
        status, page, _ = await office.get(path)
        assert status == 200 and "Huỷ đợt này" in page
        assert "<b>Mẫu:</b> Họp ấp / thôn: mời bà con đi họp" in page
        assert "Địa điểm: nhà văn hoá ấp" in page and "tổ chức họp bà con" in page
        assert "Họp ấp &lt;b&gt;tháng 12&lt;/b&gt;" in page and "<b>tháng 12</b>" not in page
        status, _, answer = await office.post(path + "/cancel", {"csrf_token": csrf_in(page)})
        assert status == 303
        _, page, _ = await office.get(answer.headers["Location"])
        assert "Đã huỷ đợt thông báo" in page and "Huỷ đợt này" not in page
        async with rt.sessions() as s:
            cancelled = await s.get(Campaign, campaign_id)
            assert cancelled is not None and cancelled.status == Status.CANCELLED
        status, page, _ = await office.post(path + "/cancel", {"csrf_token": csrf_in(page)})
        assert status == 409 and "đã kết thúc" in page  # a second cancel changes nothing


async def test_search_boxes_take_sql_as_plain_text(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        await scam_warning_sent(svc, clock)
        assert await office.sign_in() == 303
        for typed in ("' OR '1'='1", "%", "_", "'; DROP TABLE campaigns; --", '" OR 1=1 --'):
            async with office.http.get(office.url("/admin/campaigns"), params={"q": typed}) as r:
                assert r.status == 200
                assert "Cảnh báo lừa đảo vay vốn" not in await r.text(), typed
        async with svc.runtime.sessions() as s:
            assert await s.scalar(select(Campaign.id))  # the table is still there
        _, page, _ = await office.get("/admin/campaigns")
        assert "Cảnh báo lừa đảo vay vốn" in page


async def test_the_dashboard_charts_reach_per_hamlet_and_for_poor_households(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as office,
        Visitor(svc) as phone,
    ):
        await scam_warning_sent(svc, clock)
        assert await office.sign_in() == 303
        _, page, _ = await office.get("/admin/")
        chart = page[page.index('<svg class="chart"') : page.index("</svg>")]
        # Ba Sáu's household (poor, Tân Lập) saw its copy; nobody in Tân Thạnh is known to have.
        assert "Ấp Tân Lập" in chart and "25% (1/4)" in chart
        assert "Ấp Tân Thạnh" in chart and "0% (0/2)" in chart
        assert "Hộ nghèo: 1 đã tiếp cận, 2 chưa" in chart
        assert "Hộ cận nghèo: 0 đã tiếp cận, 2 chưa" in chart
        await head_signed_in(svc, phone)
        _, page, _ = await phone.get("/admin/")
        chart = page[page.index('<svg class="chart"') : page.index("</svg>")]
        assert "Ấp Tân Lập" in chart and "Ấp Tân Thạnh" not in chart
        assert "Hộ nghèo: 1 đã tiếp cận, 1 chưa" in chart


async def test_a_firings_copies_are_counted_the_same_both_ways(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        _, firing, _ = await scam_warning_sent(svc, clock)
        async with svc.runtime.sessions() as s:
            quick = await copies_line(s, firing)
            direct = await copies_line(s, firing, open_counted=0)  # as while a big send goes
            unsent = await unsent_copies(s, firing)
        assert quick == direct == "Tin: 4 đã gửi, 1 gửi lỗi"
        assert [(c.hamlet, c.recipient) for c in unsent] == [("Ấp Tân Thạnh", "nhóm Zalo")]


async def test_the_commune_wide_reach_is_a_minute_old_at_most_and_a_record_shows_at_once(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as office,
        Visitor(svc) as phone,
    ):
        campaign_id, firing, hamlets = await scam_warning_sent(svc, clock)
        assert await office.sign_in() == 303
        path = f"/admin/campaigns/{campaign_id}"
        _, page, _ = await office.get(path)
        assert "1/4 (25%)" in page and "số liệu lúc" in page
        await svc.platform.mark_seen(CHU_BAY)
        await svc.settled()
        _, page, _ = await office.get(path)
        assert "1/4 (25%)" in page  # worked out less than a minute ago, and said so
        clock.advance(timedelta(seconds=61))
        _, page, _ = await office.get(path)
        assert "2/4 (50%)" in page
        await head_signed_in(svc, phone)
        own = f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Lập']}"
        _, form, _ = await phone.get(own)
        status, _, _ = await phone.post(
            own + "/offline",
            {"csrf_token": csrf_in(form), "household": "TL-03", "method": "meeting"},
        )
        assert status == 303
        _, page, _ = await office.get(path)
        assert "3/4 (75%)" in page  # the head's record, without waiting
