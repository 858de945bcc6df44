"""An account made without a Zalo id gets one: a code from the desk, sent to the OA by its owner."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Hamlet, Resident, Staff
from tests.desk import ADMIN_PHONE, RESIDENT, Visitor, csrf_in, last_link
from tests.service import Service, running_service

NEW_HEAD_ZALO = "3000000000000000099"
_CODE = re.compile(r'id="link-code">(\d{4}) (\d{4})<')


async def account(svc: Service, phone: str) -> Staff:
    async with svc.runtime.sessions() as s:
        found = await s.scalar(select(Staff).where(Staff.phone == phone))
    assert found is not None
    return found


async def new_code(admin: Visitor, staff: Staff) -> str:
    token = await admin.form_token("/admin/staff")
    status, page, answer = await admin.post(
        f"/admin/staff/{staff.id}/zalo-code", {"csrf_token": token}
    )
    assert status == 200 and answer.headers["Cache-Control"] == "no-store"
    found = _CODE.search(page)
    assert found, "the page shows the code"
    return found.group(1) + found.group(2)


async def test_a_new_head_links_their_zalo_with_a_code_and_signs_in(database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as admin,
        Visitor(svc) as phone,
    ):
        svc.platform.add_user(NEW_HEAD_ZALO, "Phạm Văn Tài")
        assert await admin.sign_in(ADMIN_PHONE) == 303
        async with svc.runtime.sessions() as s:
            tan_lap = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Tân Lập"))
        _, page, _ = await admin.get(f"/admin/hamlets/{tan_lap}")
        status, _, answer = await admin.post(
            f"/admin/hamlets/{tan_lap}/handover",
            {
                "csrf_token": csrf_in(page),
                "name": "Phạm Văn Tài",
                "phone": "0912000555",
                "confirm": "1",
            },
        )
        assert status == 303
        _, page, _ = await admin.get(answer.headers["Location"])
        assert "Phạm Văn Tài chưa gắn Zalo: chưa nhận được yêu cầu duyệt" in page
        taker = await account(svc, "0912000555")
        assert f'action="/admin/staff/{taker.id}/zalo-code"' in page

        stale = await new_code(admin, taker)
        code = await new_code(admin, taker)  # the first stops working
        await svc.platform.user_send_text(NEW_HEAD_ZALO, f"dang nhap {stale}")
        await svc.settled()
        assert "Mã liên kết không đúng hoặc đã hết hạn" in svc.oa_texts(NEW_HEAD_ZALO)[-1]
        assert (await account(svc, "0912000555")).zalo_user_id is None

        await svc.platform.user_send_text(NEW_HEAD_ZALO, f"Đăng nhập {code[:4]} {code[4:]}")
        await svc.settled()
        said = svc.oa_texts(NEW_HEAD_ZALO)
        assert "Đã gắn Zalo này với tài khoản Phạm Văn Tài (Trưởng ấp)" in said[-2]
        assert (await account(svc, "0912000555")).zalo_user_id == NEW_HEAD_ZALO
        async with svc.runtime.sessions() as s:
            wrote = await s.scalar(
                select(Resident.last_interaction_at).where(Resident.zalo_user_id == NEW_HEAD_ZALO)
            )
        assert wrote == clock.now()  # Zalo's 7-day window is open: approvals can go 1:1
        link = last_link(svc, NEW_HEAD_ZALO)
        _, page, _ = await phone.get(link)
        assert "Phạm Văn Tài" in page
        assert (await phone.post(link, {"csrf_token": csrf_in(page)}))[0] == 303
        status, page, _ = await phone.get("/admin/approvals")
        assert status == 200

        # Used once: the same code from another Zalo account links nothing.
        await svc.platform.user_send_text(RESIDENT, f"đăng nhập {code}")
        await svc.settled()
        assert "Mã liên kết không đúng" in svc.oa_texts(RESIDENT)[-1]
        assert (await account(svc, "0912000555")).zalo_user_id == NEW_HEAD_ZALO
        async with svc.runtime.sessions() as s:
            events = (
                await s.scalars(
                    select(AuditEntry.to_status).where(
                        AuditEntry.entity == "staff", AuditEntry.entity_id == taker.id
                    )
                )
            ).all()
        assert list(events).count("link_code") == 2 and "zalo_linked" in events
        _, page, _ = await admin.get("/admin/audit")
        assert "gắn Zalo bằng mã liên kết" in page


async def test_guessing_codes_is_cut_off(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as admin:
        assert await admin.sign_in(ADMIN_PHONE) == 303
        token = await admin.form_token("/admin/staff")
        status, _, _ = await admin.post(
            "/admin/staff",
            {"csrf_token": token, "name": "Lý Thị Gấm", "phone": "0912000666", "role": "official"},
        )
        assert status == 303
        taker = await account(svc, "0912000666")
        code = await new_code(admin, taker)
        wrong = f"{(int(code) + 1) % 10**8:08d}"
        for _ in range(5):
            await svc.platform.user_send_text(RESIDENT, f"dang nhap {wrong}")
        await svc.platform.user_send_text(RESIDENT, f"dang nhap {code}")
        await svc.settled()
        assert "nhập sai mã nhiều lần" in svc.oa_texts(RESIDENT)[-1]
        assert (await account(svc, "0912000666")).zalo_user_id is None
        clock.advance(timedelta(minutes=61))
        await svc.platform.user_send_text(RESIDENT, f"dang nhap {code}")
        await svc.settled()
        assert "Đã gắn Zalo này với tài khoản Lý Thị Gấm" in "".join(svc.oa_texts(RESIDENT)[-2:])
