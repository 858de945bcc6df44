"""The desk in real Chromium: an official signs in with a password; a head on a phone signs in
through Zalo on the sandbox phone page and approves; a head is refused another hamlet's page.

Screenshots go to LOA_SCREENSHOTS when it is set (`docs/screenshots/` is made that way), else to
the test's own folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.migrate import upgrade_async
from bot.directory.models import Hamlet
from bot.sandbox.demo import DEMO_PASSWORD
from broadcasts.models import HamletApproval, Status
from tests.desk import OFFICIAL_PHONE, RESIDENT, TAN_LAP_HEAD, last_link
from tests.integration.test_desk import meeting
from tests.integration.test_desk_campaigns import scam_warning_sent
from tests.service import running_service

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LOA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch_errors(page: Any) -> list[str]:
    """The page's script errors and what the Content-Security-Policy refused, as they happen."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A refusal by the Content-Security-Policy (a script, style or fetch it blocks) is a console error.
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    return errors


async def office_signed_in(browser: Any, base_url: str) -> Any:
    """A desktop page signed in as the demo's commune official."""
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(f"{base_url}/admin/login")
    await page.fill("#phone", OFFICIAL_PHONE)
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/admin/")
    return page


async def test_an_official_signs_in_with_a_password_and_out(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock()
    async with running_service(url, clock=clock) as svc:
        await meeting(svc, clock)
        page = await browser.new_page(viewport=DESKTOP)
        errors = watch_errors(page)
        await page.goto(f"{svc.base_url}/admin/")
        assert page.url.endswith("/admin/login")
        await page.screenshot(path=str(shots(tmp_path) / "desk-login-desktop.png"))
        await page.fill("#phone", OFFICIAL_PHONE)
        await page.fill("#password", "mat khau sai")
        await page.click("button[type=submit]")
        assert "không đúng" in await page.locator("#signin-error").inner_text()
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{svc.base_url}/admin/")
        assert "Chào Đặng Quốc Bảo" in await page.locator("h1").inner_text()
        upcoming = await page.locator("#upcoming").inner_text()
        assert "Họp ấp tháng 12" in upcoming and "0/2 ấp đã duyệt" in upcoming
        await page.screenshot(path=str(shots(tmp_path) / "desk-home-desktop.png"), full_page=True)
        await page.click("text=Đăng xuất")
        await page.wait_for_url(f"{svc.base_url}/admin/login?out=1")
        assert "đã đăng xuất" in await page.locator("main").inner_text()
        await page.goto(f"{svc.base_url}/admin/")
        assert page.url.endswith("/admin/login")
        assert errors == []  # no script blocked, no page error


async def test_a_head_signs_in_through_zalo_on_a_phone_and_approves(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock()
    async with running_service(url, clock=clock) as svc:
        approval_id = await meeting(svc, clock)
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(f"{svc.base_url}/sandbox/")
        await page.select_option("#resident-select", TAN_LAP_HEAD)
        await page.fill("#message-input", "đăng nhập")
        await page.click("#send-button")
        link = page.locator(".msg.oa a[href*='/admin/link/']").last
        await link.wait_for(timeout=10_000)
        href = await link.get_attribute("href")
        assert href is not None

        await page.goto(href)
        assert "Nguyễn Văn Hùng" in await page.locator("#account-name").inner_text()
        await page.screenshot(path=str(shots(tmp_path) / "desk-zalo-link-phone.png"))
        await page.click("#use-link")
        await page.wait_for_url(f"{svc.base_url}/admin/")
        await page.screenshot(path=str(shots(tmp_path) / "desk-home-phone.png"), full_page=True)
        await page.click("text=Xem và duyệt")
        card = page.locator(f"#approval-{approval_id}")
        assert "Mã xác thực" in await card.locator(".preview").inner_text()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone's screen
        await page.screenshot(
            path=str(shots(tmp_path) / "desk-approvals-phone.png"), full_page=True
        )

        await card.locator("button.danger").click()  # "Từ chối" without a reason
        assert "cần ghi lý do" in await page.locator(f"#approval-{approval_id} .error").inner_text()
        await page.locator(f"#approval-{approval_id} button.approve").click()
        assert "Đã duyệt" in await page.locator("[role=status]").inner_text()
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
            assert approval is not None and approval.status == Status.APPROVED
            other = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Tân Thạnh"))

        await page.goto(f"{svc.base_url}/admin/hamlets/{other}")
        assert "Không tìm thấy trang" in await page.locator("h1").inner_text()
        assert errors == []


async def test_an_official_replies_from_the_handoff_inbox(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    async with running_service(url) as svc:
        await svc.platform.user_send_text(RESIDENT, "cho tôi gặp cán bộ")
        await svc.platform.user_send_text(RESIDENT, "0")
        await svc.platform.user_send_text(RESIDENT, "Nhà tôi bị dột, xã có hỗ trợ sửa nhà không?")
        await svc.settled()
        page = await office_signed_in(browser, svc.base_url)
        await page.click("nav >> text=Người dân chờ")
        card = page.locator("section.card").first
        assert "bị dột" in await card.inner_text()
        await page.screenshot(path=str(shots(tmp_path) / "desk-inbox-desktop.png"), full_page=True)
        answer = "Chào bà, xã có hỗ trợ sửa nhà cho hộ nghèo; cán bộ sẽ đến xem vào thứ Năm."
        await card.locator("textarea").fill(answer)
        await card.locator("button.reply").click()
        assert "Đã gửi câu trả lời" in await page.locator("[role=status]").inner_text()
        await svc.settled()
        assert answer in svc.oa_texts(RESIDENT)


async def test_an_official_writes_a_campaign_with_a_live_preview_and_quota_plan(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock()
    async with running_service(url, clock=clock) as svc:
        await svc.platform.user_send_text(TAN_LAP_HEAD, "chào")
        await svc.platform.user_send_text(RESIDENT, "chào")
        await svc.settled()
        page = await office_signed_in(browser, svc.base_url)
        errors = watch_errors(page)
        await page.click("nav >> text=Thông báo")
        await page.click("text=Tạo đợt thông báo")
        await page.fill("#title", "Họp ấp bình xét hộ nghèo")
        # Another template has other fields: the page reloads with them, the title kept.
        async with page.expect_navigation():
            await page.select_option("#template", "hop-thon")
        assert await page.input_value("#title") == "Họp ấp bình xét hộ nghèo"
        assert await page.locator(".field-error").count() == 0  # a fresh form, not faulted yet
        await page.fill("#var_date", "thứ Tư 4/11")
        await page.fill("#var_time", "19h30")
        await page.fill("#var_place", "nhà văn hoá ấp")
        await page.fill("#var_agenda", "bình xét hộ nghèo năm 2026")
        await page.fill("#at", "04/11 19h30")
        # The preview follows the typing: no button pressed.
        preview = page.locator("#preview")
        await preview.locator("text=lượt gọi Zalo").wait_for(timeout=10_000)
        text = await preview.inner_text()
        assert "bình xét hộ nghèo năm 2026" in text and "19h30 thứ Tư 04/11/2026" in text
        assert "/2000 ký tự" in text and "Ấp Tân Lập" in text
        await page.screenshot(
            path=str(shots(tmp_path) / "desk-compose-desktop.png"), full_page=True
        )
        await page.click("button[value=create]")
        assert "Đã tạo đợt thông báo" in await page.locator("[role=status]").inner_text()
        assert "Họp ấp bình xét hộ nghèo" in await page.locator("h1").inner_text()
        await svc.settled()
        assert "[Duyệt thông báo]" in svc.oa_texts(TAN_LAP_HEAD)[-1]
        await page.screenshot(
            path=str(shots(tmp_path) / "desk-campaign-desktop.png"), full_page=True
        )
        assert errors == []


async def test_a_head_on_a_phone_sees_who_to_visit_and_records_a_visit(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock()
    async with running_service(url, clock=clock) as svc:
        _, firing, hamlets = await scam_warning_sent(svc, clock)
        await svc.platform.user_send_text(TAN_LAP_HEAD, "đăng nhập")
        await svc.settled()
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        errors = watch_errors(page)
        await page.goto(svc.base_url + last_link(svc, TAN_LAP_HEAD))
        await page.click("#use-link")
        await page.wait_for_url(f"{svc.base_url}/admin/")
        await page.click("nav >> text=Ấp của tôi")
        await page.click("text=Hộ đã nhận, hộ chưa nhận")
        assert page.url.endswith(f"/admin/firings/{firing}/hamlets/{hamlets['Ấp Tân Lập']}")
        first = page.locator(".household").first
        assert "Chưa tiếp cận" in await first.inner_text()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await page.screenshot(path=str(shots(tmp_path) / "desk-reach-phone.png"), full_page=True)
        card = page.locator(".household", has_text="TL-03")
        await card.locator("button", has_text="báo tận nhà").click()
        assert "Đã ghi nhận hộ TL-03" in await page.locator("[role=status]").inner_text()
        assert "báo tận nhà" in await page.locator(".household", has_text="TL-03").inner_text()
        assert errors == []


async def test_an_official_turns_an_unanswered_question_into_an_entry(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    async with running_service(url) as svc:
        asked = "cho hỏi lịch cắt điện tuần này"
        await svc.platform.user_send_text(RESIDENT, asked)
        await svc.settled()
        page = await office_signed_in(browser, svc.base_url)
        errors = watch_errors(page)
        await page.click("nav >> text=Hỏi đáp")
        await page.fill("#thu", asked)
        await page.click("#try button[type=submit]")
        assert "chưa trả lời được" in await page.locator("#decision").inner_text()
        await page.click("text=Câu hỏi bot chưa trả lời được")
        group = page.locator("section.unanswered").first
        assert "cho hoi lich cat dien tuan nay" in await group.inner_text()
        await page.screenshot(path=str(shots(tmp_path) / "desk-unanswered-desktop.png"))
        await group.locator("text=Tạo mục mới").click()
        assert await page.input_value("#questions") == "cho hoi lich cat dien tuan nay"
        await page.fill("#id", "lich-cat-dien")
        await page.fill("#topic", "Lịch cắt điện")
        await page.fill(
            "#answer", "Lịch cắt điện của điện lực huyện dán ở bảng tin ấp mỗi thứ Hai."
        )
        await page.fill("#source", "Điện lực huyện")
        await page.click("button[value=publish]")
        assert "Đã đăng" in await page.locator("[role=status]").inner_text()
        await svc.platform.user_send_text(RESIDENT, "lịch cắt điện tuần này")
        await svc.settled()
        assert "bảng tin ấp" in svc.oa_texts(RESIDENT)[-1]  # answered at once, no restart
        assert errors == []
