"""The desk: signing in (password and Zalo link), sessions, CSRF, the rate limit, territory, approving."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Hamlet, Staff
from bot.sandbox.demo import DEMO_PASSWORD
from bot.web.auth import SESSION_COOKIE, SIGNIN_COOKIE
from bot.web.models import SigninAttempt, WebSession
from broadcasts.campaigns import CampaignRequest, create_campaign
from broadcasts.models import HamletApproval, Status
from broadcasts.setup import deps_for
from tests.desk import (
    IDLE_PAST,
    OFFICIAL_PHONE,
    RESIDENT,
    TAN_LAP_HEAD,
    TAN_THANH_HEAD,
    Visitor,
    csrf_in,
    head_signed_in,
    last_link,
    staff_id,
)
from tests.service import Service, running_service


async def audit_of(svc: Service, entity: str) -> list[AuditEntry]:
    async with svc.runtime.sessions() as s:
        return list(
            (
                await s.scalars(
                    select(AuditEntry).where(AuditEntry.entity == entity).order_by(AuditEntry.id)
                )
            ).all()
        )


async def meeting(
    svc: Service,
    clock: FakeClock,
    title: str = "Họp ấp tháng 12",
    to: tuple[str, ...] = ("Ấp Tân Lập", "Ấp Tân Thạnh"),
) -> int:
    """A campaign to Tân Lập and Tân Thạnh (or `to`), waiting for the heads; its first firing's id."""
    rt = svc.runtime
    async with rt.sessions() as s:
        official = await s.scalar(select(Staff).where(Staff.phone == OFFICIAL_PHONE))
        hamlets = {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}
        assert official is not None
        await create_campaign(
            s,
            CampaignRequest(
                title=title,
                template="hop-thon",
                variables={
                    "date": "thứ Sáu 11/12",
                    "time": "19h30",
                    "place": "nhà văn hoá ấp",
                    "agenda": "bình xét hộ nghèo năm 2026",
                },
                author_staff_id=official.id,
                hamlet_ids=[hamlets[name] for name in to],
                send_at=clock.now() + timedelta(hours=3),
            ),
            deps_for(rt),
            clock.now(),
        )
        await s.commit()
        approval = await s.scalar(
            select(HamletApproval).where(HamletApproval.hamlet_id == hamlets[to[0]])
        )
    assert approval is not None
    rt.outbox.wake()
    await svc.settled()
    return approval.id


# ------------------------------------------------------------------ password sign-in


async def test_a_password_signs_in_with_a_fresh_session_and_signs_out(database_url: str) -> None:
    async with running_service(database_url) as svc, Visitor(svc) as browser:
        status, _, answer = await browser.get("/admin/")
        assert status == 303 and answer.headers["Location"] == "/admin/login"

        status, page, answer = await browser.get("/admin/login")
        assert status == 200 and 'name="phone"' in page and 'name="password"' in page
        cookie = answer.cookies[SIGNIN_COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]

        assert await browser.sign_in(password="sai mat khau") == 401
        assert browser.session_cookie() is None
        failed = await audit_of(svc, "signin")
        assert [e.to_status for e in failed] == ["failed"] and OFFICIAL_PHONE in (
            failed[0].note or ""
        )

        assert await browser.sign_in() == 303
        first = browser.session_cookie()
        assert first is not None
        status, home, answer = await browser.get("/admin/")
        assert status == 200 and "Chào Đặng Quốc Bảo" in home and "Cán bộ xã" in home
        assert answer.headers["Cache-Control"] == "no-store"

        # Signing in again (a shared office computer, another person) gives a new session id,
        # and the old one no longer opens anything.
        assert await browser.sign_in() == 303
        second = browser.session_cookie()
        assert second is not None and second != first
        async with Visitor(svc) as stale:
            stale.hold_session(first)
            status, _, _ = await stale.get("/admin/")
            assert status == 303

        token = await browser.form_token()
        status, _, _ = await browser.post("/admin/logout", {})
        assert status == 403  # no token: not signed out by another site's form
        status, _, answer = await browser.post("/admin/logout", {"csrf_token": token})
        assert status == 303 and answer.headers["Location"] == "/admin/login?out=1"
        status, _, _ = await browser.get("/admin/")
        assert status == 303
        async with svc.runtime.sessions() as s:
            assert (await s.scalars(select(WebSession))).all() == []


async def test_a_sign_in_form_without_its_token_is_refused(database_url: str) -> None:
    async with running_service(database_url) as svc, Visitor(svc) as browser:
        await browser.get(
            "/admin/login"
        )  # the browser holds a sign-in cookie, the form is not sent
        form = {"phone": OFFICIAL_PHONE, "password": DEMO_PASSWORD}
        status, page, _ = await browser.post("/admin/login", form)
        assert status == 403 and "Xin tải lại trang" in page
        status, _, _ = await browser.post("/admin/login", {**form, "csrf_token": "đoán-bừa"})
        assert status == 403
        assert browser.session_cookie() is None


async def test_signing_out_everywhere_ends_the_other_devices_too(database_url: str) -> None:
    async with (
        running_service(database_url) as svc,
        Visitor(svc) as office,
        Visitor(svc) as phone,
    ):
        assert await office.sign_in() == 303 and await phone.sign_in() == 303
        status, _, _ = await phone.post(
            "/admin/logout", {"csrf_token": await phone.form_token(), "everywhere": "1"}
        )
        assert status == 303
        status, _, _ = await office.get("/admin/")
        assert status == 303


async def test_a_session_left_idle_expires(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as browser:
        assert await browser.sign_in() == 303
        clock.advance(timedelta(minutes=470))
        status, _, _ = await browser.get("/admin/")
        assert status == 200  # used within the idle time: it stays open, and the idle time restarts
        clock.advance(timedelta(minutes=470))
        status, _, _ = await browser.get("/admin/")
        assert status == 200
        clock.advance(IDLE_PAST)
        status, _, answer = await browser.get("/admin/approvals")
        assert status == 303
        assert answer.headers["Location"] == "/admin/login?next=/admin/approvals"
        # Signing in again comes back to the page that asked for it.
        _, page, _ = await browser.get(answer.headers["Location"])
        form = {"phone": OFFICIAL_PHONE, "password": DEMO_PASSWORD, "csrf_token": csrf_in(page)}
        status, _, answer = await browser.post("/admin/login", {**form, "next": "/admin/approvals"})
        assert status == 303 and answer.headers["Location"] == "/admin/approvals"
        _, page, _ = await browser.get(
            "/admin/login"
        )  # the used sign-in token went with the sign-in
        form["csrf_token"] = csrf_in(page)
        status, _, answer = await browser.post("/admin/login", {**form, "next": "//evil.example"})
        assert answer.headers["Location"] == "/admin/"  # never to another site


async def test_wrong_passwords_are_rate_limited_per_phone_and_per_address(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as browser:
        for _ in range(5):
            assert await browser.sign_in(password="sai mat khau") == 401
        # Past the limit even the right password waits, so guessing gains nothing.
        assert await browser.sign_in() == 429
        assert browser.session_cookie() is None
        assert "limited" in [e.to_status for e in await audit_of(svc, "signin")]
        clock.advance(timedelta(minutes=16))
        assert await browser.sign_in() == 303

        # One address trying many phones is stopped as well.
        for n in range(20):
            assert await browser.sign_in(phone=f"09880000{n:02d}", password="x" * 8) == 401
        assert await browser.sign_in(phone="0901000008") == 429


# ------------------------------------------------------------------ the Zalo link


async def test_a_head_signs_in_with_the_link_zalo_sends_and_it_works_once(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        approval_id = await meeting(svc, clock)
        await svc.platform.user_send_text(TAN_LAP_HEAD, "Đăng nhập")
        await svc.settled()
        link = last_link(svc, TAN_LAP_HEAD)
        assert "10 phút" in svc.oa_texts(TAN_LAP_HEAD)[-1]
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
            assert approval is not None and approval.status == Status.AWAITING  # not an answer

        # Opening the link (or a chat app's preview of it) only says whose account it is.
        for _ in range(2):
            status, page, answer = await phone.get(link)
            assert status == 200 and "Nguyễn Văn Hùng" in page and "Trưởng ấp" in page
            assert answer.headers["Referrer-Policy"] == "no-referrer"
        status, _, answer = await phone.post(link, {"csrf_token": csrf_in(page)})
        assert status == 303 and answer.headers["Location"] == "/admin/"
        status, home, _ = await phone.get("/admin/")
        assert status == 200 and "Chào Nguyễn Văn Hùng" in home and "Chờ anh/chị duyệt" in home

        async with Visitor(svc) as other:
            status, page, _ = await other.get(link)
            assert status == 404 and "đã được dùng" in page

        await svc.platform.user_send_text(TAN_LAP_HEAD, "dang nhap")
        await svc.settled()
        late = last_link(svc, TAN_LAP_HEAD)
        assert late != link
        clock.advance(timedelta(minutes=11))
        async with Visitor(svc) as other:
            status, _, _ = await other.get(late)
            assert status == 404


async def test_only_staff_get_a_link(database_url: str) -> None:
    async with running_service(database_url) as svc:
        await svc.platform.user_send_text(RESIDENT, "đăng nhập")
        await svc.settled()
        answers = svc.oa_texts(RESIDENT)
        assert answers and not any("/admin/link/" in a for a in answers)


# ------------------------------------------------------------------ approving and territory


async def test_a_head_approves_on_the_web_with_the_rules_of_chat(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        approval_id = await meeting(svc, clock)
        await head_signed_in(svc, phone)
        status, page, _ = await phone.get("/admin/approvals")
        assert status == 200 and "Họp ấp tháng 12" in page and "Mã xác thực" in page
        token = csrf_in(page)
        path = f"/admin/approvals/{approval_id}"

        status, page, _ = await phone.post(path, {"csrf_token": token, "decision": "reject"})
        assert status == 400 and "Từ chối cần ghi lý do" in page
        status, _, _ = await phone.post(path, {"decision": "approve"})
        assert status == 403  # no CSRF token: nothing decided
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
            assert approval is not None and approval.status == Status.AWAITING

        status, _, answer = await phone.post(path, {"csrf_token": token, "decision": "approve"})
        assert status == 303 and answer.headers["Location"].startswith("/admin/approvals?done=")
        status, page, _ = await phone.get(answer.headers["Location"])
        assert "Đã duyệt “Họp ấp tháng 12”" in page and "Không có thông báo nào chờ" in page
        await svc.settled()
        head_id = await staff_id(svc, TAN_LAP_HEAD)
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
            assert approval is not None
            assert approval.status == Status.APPROVED and approval.decided_by == head_id
        entries = [e for e in await audit_of(svc, "approval") if e.entity_id == approval_id]
        assert entries[-1].to_status == Status.APPROVED and entries[-1].actor_staff_id == head_id
        assert "DUYỆT" in svc.oa_texts(TAN_LAP_HEAD)[-1]  # confirmed in Zalo, as in chat

        status, page, _ = await phone.post(path, {"csrf_token": token, "decision": "approve"})
        assert status == 409 and "đã được trả lời" in page  # a second tap decides nothing twice


async def test_a_head_approving_a_variant_in_the_hamlets_language_reads_it_in_vietnamese_too(
    database_url: str,
) -> None:
    clock = FakeClock()
    phu_loi_head = "3000000000000000004"  # Thạch Sô Phên; Ấp Phú Lợi gets the Khmer variant
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await svc.platform.user_send_text(phu_loi_head, "chào")  # opens Zalo's 1:1 window
        await svc.settled()
        await meeting(svc, clock, to=("Ấp Phú Lợi",))
        await svc.settled()
        request = next(t for t in reversed(svc.oa_texts(phu_loi_head)) if "[Duyệt thông báo]" in t)
        khmer, vietnamese = request.index("អញ្ជើញប្រជុំ"), request.index("Mời họp ấp")
        assert khmer < request.index("Bản tiếng Việt để đối chiếu") < vietnamese

        await head_signed_in(svc, phone, phu_loi_head)
        _, page, _ = await phone.get("/admin/approvals")
        assert page.index('lang="km"') < page.index("Bản tiếng Việt để đối chiếu")
        assert "Mời họp ấp" in page and "អញ្ជើញប្រជុំ" in page

        async with Visitor(svc) as other:
            await meeting(svc, clock, title="Họp Tân Lập", to=("Ấp Tân Lập",))
            await head_signed_in(svc, other)
            _, page, _ = await other.get("/admin/approvals")
            assert "Mời họp ấp" in page and "đối chiếu" not in page  # Vietnamese already


async def test_a_head_never_sees_another_hamlet(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await meeting(svc, clock)
        await head_signed_in(svc, phone)
        async with svc.runtime.sessions() as s:
            hamlets = {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}
            theirs = await s.scalar(
                select(HamletApproval.id).where(HamletApproval.hamlet_id == hamlets["Ấp Tân Thạnh"])
            )
        status, own, _ = await phone.get(f"/admin/hamlets/{hamlets['Ấp Tân Lập']}")
        assert status == 200 and "Ấp Tân Lập" in own and "Họp ấp tháng 12" in own
        status, other, _ = await phone.get(f"/admin/hamlets/{hamlets['Ấp Tân Thạnh']}")
        status_missing, missing, _ = await phone.get("/admin/hamlets/999999")
        assert status == status_missing == 404
        assert other == missing  # refused exactly as a hamlet that does not exist
        assert "Ấp Tân Thạnh" not in other

        status, listing, _ = await phone.get("/admin/hamlets")
        assert status == 200 and "Ấp Tân Lập" in listing and "Ấp Tân Thạnh" not in listing

        token = await phone.form_token()
        status, _, _ = await phone.post(
            f"/admin/approvals/{theirs}", {"csrf_token": token, "decision": "approve"}
        )
        assert status == 404
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, theirs)
            assert approval is not None and approval.status == Status.AWAITING
        denied = await audit_of(svc, "desk")
        assert len(denied) == 3 and all(e.to_status == "denied" for e in denied)  # 2 pages, 1 form


async def test_what_people_typed_is_shown_inert(database_url: str) -> None:
    clock = FakeClock()
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await meeting(svc, clock, title=f"Họp {payload}")
        await head_signed_in(svc, phone)
        for path in ("/admin/", "/admin/approvals"):
            status, page, answer = await phone.get(path)
            assert status == 200
            assert "<script>" not in page and "<img src=x" not in page
            assert "&lt;script&gt;" in page
            assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


async def test_a_second_head_sees_only_their_own_queue(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await meeting(svc, clock)
        await head_signed_in(svc, phone, TAN_THANH_HEAD)
        _, page, _ = await phone.get("/admin/approvals")
        assert page.count('class="card"') == 1 and "Ấp Tân Thạnh" in page


async def test_cookies_are_secure_when_the_desk_is_served_over_https(database_url: str) -> None:
    env = {"LOA_PUBLIC_URL": "https://xa-tan-hoa.example.vn"}
    async with running_service(database_url, env=env) as svc, Visitor(svc, local=True) as browser:
        _, page, answer = await browser.get("/admin/login")
        assert answer.cookies[SIGNIN_COOKIE]["secure"]
        form = {"phone": OFFICIAL_PHONE, "password": DEMO_PASSWORD, "csrf_token": csrf_in(page)}
        async with browser.http.post(
            browser.url("/admin/login"),
            data=form,
            allow_redirects=False,
            cookies={SIGNIN_COOKIE: csrf_in(page)},  # a Secure cookie is not sent over http
        ) as answer:
            assert answer.status == 303
            session = answer.cookies[SESSION_COOKIE]
        assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
        assert session["path"] == "/admin"


async def test_a_disabled_account_is_signed_out_and_let_in_nowhere(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        await svc.platform.user_send_text(TAN_LAP_HEAD, "đăng nhập")
        await svc.settled()
        link = last_link(svc, TAN_LAP_HEAD)
        async with svc.runtime.sessions() as s:
            for staff in (await s.scalars(select(Staff))).all():
                if staff.phone == OFFICIAL_PHONE or staff.zalo_user_id == TAN_LAP_HEAD:
                    staff.active = False
            await s.commit()
        status, _, _ = await office.get("/admin/")
        assert status == 303  # the open session no longer opens anything
        assert await office.sign_in() == 401  # nor does the right password
        async with Visitor(svc) as phone:
            status, _, _ = await phone.get(link)
            assert status == 404  # nor the link sent before
        await svc.platform.user_send_text(TAN_LAP_HEAD, "đăng nhập")
        await svc.settled()
        assert "/admin/link/" not in svc.oa_texts(TAN_LAP_HEAD)[-1]  # and no new one is sent


async def test_a_link_past_its_ten_minutes_signs_nobody_in(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await svc.platform.user_send_text(TAN_LAP_HEAD, "đăng nhập")
        await svc.settled()
        link = last_link(svc, TAN_LAP_HEAD)
        _, page, _ = await phone.get(link)  # opened in time, tapped too late
        clock.advance(timedelta(minutes=10, seconds=1))
        status, gone, _ = await phone.post(link, {"csrf_token": csrf_in(page)})
        assert status == 404 and "quá 10 phút" in gone
        assert phone.session_cookie() is None


async def test_every_wrong_password_is_audited_and_the_address_limit_holds(
    database_url: str,
) -> None:
    async with running_service(database_url) as svc, Visitor(svc) as browser:
        for n in range(20):
            assert await browser.sign_in(phone=f"09880000{n:02d}", password="x" * 8) == 401
        assert await browser.sign_in() == 429  # the right password too, from this address
        entries = await audit_of(svc, "signin")
        assert [e.to_status for e in entries] == ["failed"] * 20 + ["limited"]


async def test_behind_a_trusted_proxy_the_limit_counts_the_visitor(database_url: str) -> None:
    env = {"LOA_TRUSTED_PROXIES": "127.0.0.1"}
    async with running_service(database_url, env=env) as svc, Visitor(svc) as browser:

        async def sign_in_from(address: str, password: str) -> int:
            _, page, _ = await browser.get("/admin/login")
            form = {"phone": OFFICIAL_PHONE, "password": password, "csrf_token": csrf_in(page)}
            async with browser.http.post(
                browser.url("/admin/login"),
                data=form,
                allow_redirects=False,
                headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
            ) as answer:
                return answer.status

        for _ in range(5):
            assert await sign_in_from("198.51.100.7", "sai mat khau") == 401
        async with svc.runtime.sessions() as s:
            addresses = set((await s.scalars(select(SigninAttempt.address))).all())
        assert addresses == {"198.51.100.7"}  # the proxy's own address is not the visitor's


async def test_two_answers_at_once_decide_once(database_url: str) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as phone,
        Visitor(svc) as tablet,
    ):
        approval_id = await meeting(svc, clock)
        await head_signed_in(svc, phone)
        await head_signed_in(svc, tablet)
        path = f"/admin/approvals/{approval_id}"
        answers = await asyncio.gather(
            phone.post(path, {"csrf_token": await phone.form_token(), "decision": "approve"}),
            tablet.post(
                path,
                {
                    "csrf_token": await tablet.form_token(),
                    "decision": "reject",
                    "reason": "trùng lịch",
                },
            ),
        )
        assert sorted(status for status, _, _ in answers) == [303, 409]
        await svc.settled()
        decided = [e for e in await audit_of(svc, "approval") if e.entity_id == approval_id]
        assert len([e for e in decided if e.from_status == Status.AWAITING]) == 1
        confirmations = [t for t in svc.oa_texts(TAN_LAP_HEAD) if t.startswith("Đã ghi nhận")]
        assert len(confirmations) == 1


async def test_a_head_moved_to_another_hamlet_no_longer_answers_for_the_old_one(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        approval_id = await meeting(svc, clock)
        await head_signed_in(svc, phone)
        async with svc.runtime.sessions() as s:
            head = await s.scalar(select(Staff).where(Staff.zalo_user_id == TAN_LAP_HEAD))
            other = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Hòa Bình"))
            assert head is not None
            head.hamlet_id = other
            await s.commit()
        _, page, _ = await phone.get("/admin/approvals")
        assert f"approval-{approval_id}" not in page
        status, _, _ = await phone.post(
            f"/admin/approvals/{approval_id}",
            {"csrf_token": csrf_in(page), "decision": "approve"},
        )
        assert status == 404


# ------------------------------------------------------------------ the handoff inbox


async def test_a_helper_answers_a_waiting_resident_from_the_desk_once(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await svc.platform.user_send_text(RESIDENT, "0")  # Bà Sáu, Ấp Tân Lập, asks for a person
        await svc.platform.user_send_text(RESIDENT, "Tôi muốn hỏi về thẻ BHYT <b>cho cháu</b>")
        await svc.settled()
        await head_signed_in(svc, phone)
        status, page, _ = await phone.get("/admin/inbox")
        assert status == 200 and "Bà Sáu Nguyễn Thị Sáu" in page and "Ấp Tân Lập" in page
        assert "thẻ BHYT &lt;b&gt;cho cháu&lt;/b&gt;" in page  # what they wrote, shown inert
        handoff_id = int(page.split('id="handoff-')[1].split('"')[0])
        form = {
            "csrf_token": csrf_in(page),
            "reply_key": page.split('name="reply_key" value="')[1].split('"')[0],
        }
        path = f"/admin/inbox/{handoff_id}/reply"
        status, page, _ = await phone.post(path, {**form, "text": "   "})
        assert status == 400 and "Chưa viết câu trả lời" in page

        answer = "Chào bà Sáu, thẻ BHYT cho cháu làm ở trạm y tế xã, mang giấy khai sinh."
        for _ in range(2):  # the same form sent twice (a double tap, a resend after a refresh)
            status, _, response = await phone.post(path, {**form, "text": answer})
            assert status == 303 and response.headers["Location"] == "/admin/inbox?done=replied"
        await svc.settled()
        assert svc.oa_texts(RESIDENT).count(answer) == 1
        # The resident thanks the helper: a person is talking with them, the bot adds nothing.
        before = len(svc.oa_texts(RESIDENT))
        await svc.platform.user_send_text(RESIDENT, "Dạ cảm ơn cán bộ")
        await svc.settled()
        assert len(svc.oa_texts(RESIDENT)) == before
        replied = [e for e in await audit_of(svc, "handoff") if e.to_status == "replied"]
        assert len(replied) == 1 and replied[0].actor_staff_id == await staff_id(svc, TAN_LAP_HEAD)
        _, page, _ = await phone.get("/admin/inbox")
        said = page[page.index(f'id="handoff-{handoff_id}"') :]
        assert "<b>Cán bộ trả lời</b> (" in said and "<b>Trả lời tự động</b> (" in said
        assert said.index("Cán bộ trả lời") < said.index(answer) and "<b>OA</b>" not in said
        # A reply Zalo refuses is shown with its reason, to the person who can call instead.
        svc.platform.inject("/v3.0/oa/message/cs", "-217", 1)
        form["reply_key"] = page.split('name="reply_key" value="')[1].split('"')[0]
        assert (await phone.post(path, {**form, "text": "Bà Sáu ơi, bà gọi lại giúp"}))[0] == 303
        await svc.settled()
        _, page, _ = await phone.get("/admin/inbox")
        assert "không gửi được: Người nhận đã chặn tin từ OA" in page

        async with Visitor(svc) as other:
            await head_signed_in(svc, other, TAN_THANH_HEAD)
            _, theirs, _ = await other.get("/admin/inbox")
            assert "Bà Sáu" not in theirs and "Không có ai đang chờ" in theirs
            status, _, _ = await other.post(
                path, {"csrf_token": csrf_in(theirs), "reply_key": "x", "text": "xin chào"}
            )
            assert status == 404

        status, _, _ = await phone.post(
            f"/admin/inbox/{handoff_id}/close", {"csrf_token": form["csrf_token"]}
        )
        assert status == 303
        await svc.settled()
        assert "Cán bộ đã hỗ trợ xong" in svc.oa_texts(RESIDENT)[-1]
        _, page, _ = await phone.get("/admin/inbox")
        assert "Không có ai đang chờ" in page
        # Back with the bot: a question gets the FAQ's answer again.
        await svc.platform.user_send_text(RESIDENT, "vay vốn hộ nghèo lãi suất bao nhiêu")
        await svc.settled()
        assert "Cán bộ đã hỗ trợ xong" not in svc.oa_texts(RESIDENT)[-1]


# ------------------------------------------------------------------ the audit log


async def test_the_audit_log_is_filtered_for_officials_and_closed_to_heads(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        await meeting(svc, clock)
        assert await office.sign_in(password="sai mat khau") == 401
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/audit?entity=signin")
        assert status == 200
        table = page.split('<table id="audit">')[1]
        assert table.count("<tr>") == 3  # the header, the failure, the sign-in
        assert "Đặng Quốc Bảo" in table and "duyệt" not in table
        assert "đăng nhập: Đặng Quốc Bảo" in table and "đăng nhập số" not in table  # named
        assert "sai mật khẩu" in table and "đăng nhập được" in table

        status, page, _ = await office.get("/admin/audit?entity=campaign&from=02/11/2026")
        assert status == 200 and "đợt thông báo: Họp ấp tháng 12" in page and "chờ duyệt" in page
        assert "awaiting_approval" not in page  # statuses in Vietnamese
        status, page, _ = await office.get("/admin/audit?entity=campaign&from=03/11/2026")
        assert "Không có mục nào khớp" in page  # the entries are from 02/11 (Vietnam time)
        status, page, _ = await office.get("/admin/audit?from=31/02/2026")
        assert status == 400 and "Từ ngày “31/02/2026” chưa đúng" in page

        async with Visitor(svc) as phone:
            await head_signed_in(svc, phone)
            status, _, _ = await phone.get("/admin/audit")
            assert status == 404
        _, page, _ = await office.get("/admin/audit?entity=desk")
        assert "mở: nhật ký (/admin/audit)" in page and "GET " not in page

        # By hamlet: what its staff did and what concerns it (here, the campaign sent to it).
        async with svc.runtime.sessions() as s:
            ids = {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}
        _, page, _ = await office.get(f"/admin/audit?hamlet={ids['Ấp Tân Lập']}")
        table = page.split('<table id="audit">')[1]
        assert "Họp ấp tháng 12" in table and "mở: nhật ký" in table and "Nguyễn Văn Hùng" in table
        assert "sai mật khẩu" not in table  # the official's own sign-in is not the hamlet's
        assert f'<option value="{ids["Ấp Tân Lập"]}" selected>' in page
        _, page, _ = await office.get(f"/admin/audit?hamlet={ids['Ấp Tân Thạnh']}")
        table = page.split('<table id="audit">')[1]
        assert "Họp ấp tháng 12" in table and "mở: nhật ký" not in table
        _, page, _ = await office.get(f"/admin/audit?hamlet={ids['Ấp Hòa Bình']}")
        assert "Không có mục nào khớp" in page
