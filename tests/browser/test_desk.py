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
from tests.desk import OFFICIAL_PHONE, RESIDENT, TAN_LAP_HEAD
from tests.integration.test_desk import meeting
from tests.service import running_service

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LOA_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def test_an_official_signs_in_with_a_password_and_out(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock()
    async with running_service(url, clock=clock) as svc:
        await meeting(svc, clock)
        page = await browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # A refusal by the Content-Security-Policy (an inline script or style) is a console error.
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
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
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
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
        page = await browser.new_page(viewport=DESKTOP)
        await page.goto(f"{svc.base_url}/admin/login")
        await page.fill("#phone", OFFICIAL_PHONE)
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{svc.base_url}/admin/")
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
