"""A person's own account on the desk: setting or changing their password, signing out elsewhere."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Staff
from bot.sandbox.demo import DEMO_PASSWORD
from tests.desk import TAN_LAP_HEAD, Visitor, csrf_in, head_signed_in, staff_id
from tests.service import running_service

NEW = "mat khau moi 2026"


async def test_a_head_signed_in_through_zalo_sets_a_password_for_the_office(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as phone,
        Visitor(svc) as office,
    ):
        await head_signed_in(svc, phone)
        status, page, _ = await phone.get("/admin/")
        assert 'href="/admin/account"' in page  # the name in the header leads to the account
        status, page, _ = await phone.get("/admin/account")
        assert status == 200 and "Đặt mật khẩu" in page and 'name="current"' not in page
        token = csrf_in(page)
        path = "/admin/account/password"
        status, page, _ = await phone.post(
            path, {"csrf_token": token, "new": "ngan", "again": "ngan"}
        )
        assert status == 400 and 'id="err-new"' in page and "ít nhất 8 ký tự" in page
        status, page, _ = await phone.post(
            path, {"csrf_token": token, "new": NEW, "again": NEW + "x"}
        )
        assert status == 400 and 'id="err-again"' in page
        status, _, _ = await phone.post(path, {"new": NEW, "again": NEW})
        assert status == 403  # no CSRF token, nothing set
        async with svc.runtime.sessions() as s:
            head = await s.get(Staff, await staff_id(svc, TAN_LAP_HEAD))
            assert head is not None and head.password_hash is None and head.phone
            head_phone = head.phone

        status, _, answer = await phone.post(path, {"csrf_token": token, "new": NEW, "again": NEW})
        assert status == 303 and answer.headers["Location"].endswith("?done=password")
        _, page, _ = await phone.get("/admin/account?done=password")
        assert "Đã đặt mật khẩu" in page and 'name="current"' in page  # this device stays in
        assert await office.sign_in(head_phone, NEW) == 303
        async with svc.runtime.sessions() as s:
            notes = (
                await s.scalars(
                    select(AuditEntry.note).where(AuditEntry.to_status == "password_set")
                )
            ).all()
        assert notes == ["tự đặt trên trang; 0 phiên khác kết thúc"]


async def test_changing_a_password_asks_the_current_one_and_ends_the_other_sessions(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as desk,
        Visitor(svc) as laptop,
        Visitor(svc) as later,
    ):
        assert await desk.sign_in() == 303 and await laptop.sign_in() == 303
        status, page, _ = await desk.get("/admin/account")
        assert "Đổi mật khẩu" in page and 'name="current"' in page
        token = csrf_in(page)
        path = "/admin/account/password"
        wrong = {"csrf_token": token, "current": "khong phai", "new": NEW, "again": NEW}
        status, page, _ = await desk.post(path, wrong)
        assert status == 400 and "Mật khẩu hiện tại không đúng" in page
        right = {**wrong, "current": DEMO_PASSWORD}
        status, _, _ = await desk.post(path, right)
        assert status == 303
        status, _, _ = await laptop.get("/admin/")
        assert status in (302, 303)  # signed out: the old password's session is gone
        assert (await desk.get("/admin/"))[0] == 200
        assert await later.sign_in(password=DEMO_PASSWORD) == 401
        assert await later.sign_in(password=NEW) == 303


async def test_guessing_the_current_password_is_limited_like_the_sign_in_form(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as desk:
        assert await desk.sign_in() == 303
        token = await desk.form_token("/admin/account")
        path = "/admin/account/password"
        for n in range(5):
            guess = {"csrf_token": token, "current": f"doan {n}", "new": NEW, "again": NEW}
            status, page, _ = await desk.post(path, guess)
            assert status == 400 and "không đúng" in page
        right = {"csrf_token": token, "current": DEMO_PASSWORD, "new": NEW, "again": NEW}
        status, page, _ = await desk.post(path, right)
        assert status == 400 and "quá nhiều lần" in page
        _, page, _ = await desk.get("/admin/audit?entity=signin")
        assert "mật khẩu hiện tại, khi đổi mật khẩu" in page
