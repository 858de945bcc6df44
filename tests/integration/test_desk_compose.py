"""Writing a campaign on the desk: fields checked one by one, the preview, the quota plan, creating."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.directory.models import Hamlet, Resident
from broadcasts.models import Campaign, HamletApproval
from tests.desk import Visitor, csrf_in, head_signed_in
from tests.integration.test_announcements import BA_SAU, CHI_HAI, CHU_BAY, HEADS
from tests.service import Service, running_service

MEETING = {
    "var_date": "thứ Tư 4/11",
    "var_time": "19h30",
    "var_place": "nhà văn hoá ấp",
    "var_agenda": "bình xét hộ nghèo năm 2026",
}


async def hamlet_ids(svc: Service) -> dict[str, int]:
    async with svc.runtime.sessions() as s:
        return {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}


async def campaigns(svc: Service) -> int:
    async with svc.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Campaign)) or 0)


def form(token: str, hamlets: list[int], **fields: str) -> list[tuple[str, str]]:
    """The compose form as a browser posts it: repeated checkbox names, then the typed fields."""
    data = [("csrf_token", token), ("template", "hop-thon")]
    data += [("hamlet", str(h)) for h in hamlets]
    data += [("channel", "group"), ("channel", "resident")]
    return data + list(fields.items())


async def test_bad_fields_are_named_next_to_them_and_nothing_is_saved(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/campaigns/new?template=hop-thon")
        assert status == 200 and 'name="var_place"' in page
        token = csrf_in(page)
        ids = await hamlet_ids(svc)
        typed = {**MEETING, "var_place": "", "at": "32/13 19h30", "title": ""}
        for do, expected in (("preview", 200), ("create", 400)):
            status, page, _ = await office.post(
                "/admin/campaigns/new", form(token, [ids["Ấp Tân Lập"]], do=do, **typed)
            )
            assert status == expected
            assert 'id="err-title"' in page and 'id="err-var_place"' in page
            assert 'id="err-at"' in page and 'id="err-hamlets"' not in page
            assert 'value="bình xét hộ nghèo năm 2026"' not in page  # a textarea keeps it instead
            assert "bình xét hộ nghèo năm 2026</textarea>" in page  # what was typed comes back
        status, page, _ = await office.post(
            "/admin/campaigns/new",
            [("csrf_token", token), ("template", "hop-thon"), ("do", "create")],
        )
        assert status == 400 and 'id="err-hamlets"' in page and 'id="err-channels"' in page
        assert await campaigns(svc) == 0


async def test_an_official_previews_plans_and_creates_a_campaign(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        for user in (BA_SAU, CHU_BAY, CHI_HAI, HEADS["Ấp Tân Lập"]):
            await svc.platform.user_send_text(user, "chào")
        await svc.settled()
        clock.advance(timedelta(hours=1))
        assert await office.sign_in() == 303
        token = await office.form_token("/admin/campaigns/new")
        ids = await hamlet_ids(svc)
        chosen = [ids["Ấp Tân Lập"], ids["Ấp Tân Thạnh"]]
        typed = {**MEETING, "title": "Họp ấp <i>tháng 11</i>", "at": "04/11 19h30"}
        typed["var_agenda"] = "<script>alert(1)</script> bình xét"

        status, page, _ = await office.post(
            "/admin/campaigns/new", form(token, chosen, do="preview", **typed)
        )
        assert status == 200 and "Cần sửa" not in page
        assert page.count('class="preview"') == 2 and "Ấp Tân Thạnh" in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
        assert "/2000 ký tự" in page and "19h30 thứ Tư 04/11/2026" in page
        # The plan counts one post per hamlet group and one copy per resident Zalo lets us write to.
        async with svc.runtime.sessions() as s:
            fire_at = clock.now() + timedelta(days=2, hours=9, minutes=30)  # 19h30 VN on 4/11
            residents = (
                await s.scalars(select(Resident).where(Resident.hamlet_id.in_(chosen)))
            ).all()
        writable = [
            r
            for r in residents
            if r.last_interaction_at and fire_at - r.last_interaction_at < timedelta(days=7)
        ]
        assert writable  # the residents who wrote today
        assert f"<b>{len(writable) + 2}</b> lượt gọi Zalo" in page

        status, page, _ = await office.post(
            "/admin/campaigns/new",
            form(
                token,
                chosen,
                do="preview",
                **{
                    **typed,
                    # The first send is now the first Friday: the meeting must come after it.
                    "var_date": "thứ Hai 30/11",
                    "every": "hằng tuần vào thứ Sáu lúc 19h30",
                    "until": "31/12/2026",
                },
            ),
        )
        assert "Hằng tuần vào thứ Sáu lúc 19h30, đến hết 31/12/2026" in page
        assert page.count("thứ Sáu") >= 5 and "19h30 thứ Sáu 06/11/2026" in page

        status, fragment, _ = await office.post(
            "/admin/campaigns/preview", form(token, chosen, **typed)
        )
        assert status == 200 and "<html" not in fragment and 'class="preview"' in fragment
        status, _, _ = await office.post("/admin/campaigns/preview", form("", chosen, **typed))
        assert status == 403

        status, _, answer = await office.post(
            "/admin/campaigns/new", form(token, chosen, do="create", **typed)
        )
        assert status == 303 and answer.headers["Location"].endswith("?done=created")
        _, page, _ = await office.get(answer.headers["Location"])
        assert "Đã tạo đợt thông báo" in page and "Họp ấp &lt;i&gt;tháng 11&lt;/i&gt;" in page
        await svc.settled()
        async with svc.runtime.sessions() as s:
            campaign = await s.scalar(select(Campaign))
            assert campaign is not None and campaign.template == "hop-thon"
            assert sorted(campaign.hamlet_ids) == sorted(chosen)
            asked = (await s.scalars(select(HamletApproval.hamlet_id))).all()
        assert sorted(asked) == sorted(chosen)
        assert "[Duyệt thông báo]" in svc.oa_texts(HEADS["Ấp Tân Lập"])[-1]


async def test_heads_do_not_write_campaigns(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await head_signed_in(svc, phone)
        status, _, _ = await phone.get("/admin/campaigns/new")
        assert status == 404
        token = await phone.form_token()
        ids = await hamlet_ids(svc)
        status, _, _ = await phone.post(
            "/admin/campaigns/new",
            form(token, [ids["Ấp Tân Lập"]], do="create", title="Họp", **MEETING),
        )
        assert status == 404 and await campaigns(svc) == 0


async def test_a_meeting_day_already_past_or_misnamed_is_refused(database_url: str) -> None:
    clock = FakeClock()  # Monday 2/11/2026
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        token = await office.form_token("/admin/campaigns/new")
        ids = [(await hamlet_ids(svc))["Ấp Tân Lập"]]
        for date_typed, at, problem in (
            ("thứ Tư 4/11", "05/11 19h30", "ghi ngày 04/11/2026, mà tin gửi lúc 19h30 thứ Năm"),
            ("thứ Sáu 4/11", "03/11 8h", "Ngày 04/11/2026 là thứ Tư, không phải “thứ Sáu”."),
            ("thứ Tư 31/11", "03/11 8h", "Ngày “31/11” không có thật."),
            ("thứ Sáu 30/10", "03/11 8h", "ghi ngày 30/10/2026, ngày đó đã qua. Xin sửa ngày."),
        ):
            # The day is checked while other fields are still empty (no title, no place yet).
            typed = {**MEETING, "var_date": date_typed, "title": "", "var_place": "", "at": at}
            for do, expected in (("preview", 200), ("create", 400)):
                status, page, _ = await office.post(
                    "/admin/campaigns/new", form(token, ids, do=do, **typed)
                )
                assert status == expected
                shown = re.search(r'id="err-var_date">([^<]*)<', html.unescape(page))
                assert shown is not None and problem in shown.group(1), date_typed
        assert await campaigns(svc) == 0

        # The same day, before the meeting, is what an official means.
        typed = {**MEETING, "title": "Họp ấp", "at": "04/11 7h"}
        status, _, _ = await office.post(
            "/admin/campaigns/new", form(token, ids, do="create", **typed)
        )
        assert status == 303 and await campaigns(svc) == 1


async def test_the_text_takes_shape_before_every_field_is_filled(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/campaigns/new")
        assert status == 200
        chosen = re.search(r'<option value="([^"]+)" selected>', page)
        assert chosen is not None and chosen.group(1) == "thong-bao-chung"  # never the scam alert
        token = csrf_in(page)
        ids = [(await hamlet_ids(svc))["Ấp Tân Thạnh"]]
        typed = {**MEETING, "var_place": "", "title": ""}
        status, page, _ = await office.post(
            "/admin/campaigns/preview", form(token, ids, do="preview", **typed)
        )
        assert status == 200 and "Bản nháp: tin đang thành hình" in page
        assert "Ấp Tân Thạnh tổ chức họp bà con" in page and "Địa điểm: [Nơi họp]" in page
        assert "Cần điền nơi họp." in page and "Lượt gửi qua Zalo" not in page


async def test_a_campaign_is_edited_before_it_goes_out_and_its_heads_asked_again(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as office,
        Visitor(svc) as phone,
    ):
        assert await office.sign_in() == 303
        token = await office.form_token("/admin/campaigns/new")
        ids = [(await hamlet_ids(svc))["Ấp Tân Lập"]]
        typed = {**MEETING, "title": "Họp ấp", "at": "03/11 19h30", "every": ""}
        status, _, answer = await office.post(
            "/admin/campaigns/new", form(token, ids, do="create", **typed)
        )
        assert status == 303
        old_path = answer.headers["Location"].split("?")[0]
        _, page, _ = await office.get(old_path)
        assert "Sửa đợt này" in page
        old_id = int(old_path.rsplit("/", 1)[1])

        status, page, _ = await office.get(f"/admin/campaigns/new?sua={old_id}")
        assert status == 200 and f"Sửa đợt thông báo số {old_id}" in page
        assert 'value="03/11/2026 19h30"' in page and 'value="nhà văn hoá ấp"' in page
        changed = {**typed, "var_place": "hội trường ấp", "replaces": str(old_id)}
        status, _, answer = await office.post(
            "/admin/campaigns/new", form(token, ids, do="create", **changed)
        )
        assert status == 303 and answer.headers["Location"].endswith("?done=replaced")
        _, page, _ = await office.get(answer.headers["Location"])
        assert "Đã lưu bản sửa thành đợt mới này và huỷ bản cũ" in page
        async with svc.runtime.sessions() as s:
            old = await s.get(Campaign, old_id)
            approvals = (await s.scalars(select(HamletApproval))).all()
        assert old is not None and old.status == "cancelled"
        assert sorted(a.status for a in approvals) == ["awaiting_approval", "cancelled"]
        # The head's queue holds only the new text.
        await head_signed_in(svc, phone)
        _, queue, _ = await phone.get("/admin/approvals")
        assert "hội trường ấp" in queue and "nhà văn hoá ấp" not in queue

        # The replaced one cannot be edited, or replaced, again.
        status, _, answer = await office.get(f"/admin/campaigns/new?sua={old_id}")
        assert status == 303 and answer.headers["Location"].endswith("?done=not_editable")
        status, page, _ = await office.post(
            "/admin/campaigns/new", form(token, ids, do="create", **changed)
        )
        assert status == 400 and "không sửa được nữa" in page
        assert await campaigns(svc) == 2
