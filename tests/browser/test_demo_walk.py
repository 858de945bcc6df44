"""The README's demo, walked in real Chromium on a 360×740 phone: an official posts "now" in the
commune group, two heads approve at different times, the first hamlet gets it at once, and the
desk's reach shows households.

Screenshots go to LOA_SCREENSHOTS when it is set, else to the test's own folder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from bot.clock import VN_TZ, FakeClock
from bot.db.migrate import upgrade_async
from bot.sandbox.demo import DEMO_PASSWORD
from broadcasts.setup import run_tick
from tests.browser.test_desk import PHONE, shots, watch_errors
from tests.desk import OFFICIAL_PHONE
from tests.service import Service, eventually, running_service

OFFICIAL = "3000000000000000007"  # Đặng Quốc Bảo, cán bộ xã
HEAD_TAN_LAP = "3000000000000000001"  # Nguyễn Văn Hùng
HEAD_TAN_THANH = "3000000000000000002"  # Trần Thị Mai
BA_SAU = "4000000000000000001"  # a resident of Ấp Tân Lập, household TL-01
CHU_BAY = "4000000000000000002"  # a resident of Ấp Tân Lập, household TL-02
COMMUNE_GROUP = "5000000000000000100"
TAN_LAP_GROUP = "5000000000000000101"
TAN_THANH_GROUP = "5000000000000000102"
TITLE = "Họp dân về nước sạch"
BODY = "Tối thứ Sáu 19h30 tại nhà văn hoá ấp, bàn việc lắp đường ống nước sạch."


def oa_posted(svc: Service, group_id: str) -> bool:
    """Whether the OA has posted the announcement in the group."""
    return any(
        m.get("from") == "oa" and BODY in m["text"] for m in svc.platform.group_chat_json(group_id)
    )


async def tick(svc: Service) -> None:
    """The scheduler's 30-second check, run now (twice: a hamlet written, then sent)."""
    for _ in range(2):
        await run_tick(svc.runtime)
        await svc.settled()


async def as_person(page: Any, base_url: str, user_id: str) -> None:
    """The phone page, as this person."""
    await page.goto(f"{base_url}/sandbox/?user={user_id}")
    await expect(page.locator("#person-name")).not_to_be_empty()


async def say_in_group(page: Any, group_id: str, text: str) -> None:
    """Type `text` in a group on the phone page and send it."""
    await page.click("#tab-groups")
    await page.select_option("#group-select", group_id)
    await page.click("#group-input")
    for i, line in enumerate(text.split("\n")):
        if i:
            await page.keyboard.press("Enter")  # a new line, as on a phone
        await page.keyboard.type(line)
    await page.click("#group-send-button")


async def test_the_readme_demo_on_a_phone(browser: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    clock = FakeClock(datetime(2026, 12, 3, 15, 0, tzinfo=VN_TZ))  # a Thursday afternoon
    folder = shots(tmp_path)
    async with running_service(url, clock=clock) as svc:
        context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = await context.new_page()
        errors = watch_errors(page)

        # Bà Sáu asked the OA something this week, so Zalo lets the OA write to her 1:1.
        await as_person(page, svc.base_url, BA_SAU)
        await page.fill("#message-input", "vay vốn hộ nghèo")
        await page.click("#send-button")
        await page.locator(".msg.oa").last.wait_for(timeout=10_000)

        # 1. The official posts "now" in the commune group: the title, the text on the next line.
        await as_person(page, svc.base_url, OFFICIAL)
        await say_in_group(page, COMMUNE_GROUP, f"#thongbao {TITLE}\n{BODY}")
        request = page.locator(".msg.group.from-oa .text", has_text="[Duyệt thông báo]")
        await expect(request.first).to_contain_text("gửi ngay tới từng ấp khi được duyệt")
        await svc.settled()
        await page.screenshot(path=str(folder / "demo-1-posted.png"))

        # 2. Nguyễn Văn Hùng approves at once: Ấp Tân Lập gets it, the others do not yet.
        clock.advance(timedelta(minutes=2))
        await as_person(page, svc.base_url, HEAD_TAN_LAP)
        await say_in_group(page, COMMUNE_GROUP, "1")
        done = page.locator(".msg.group.from-oa .text", has_text="Đã ghi nhận")
        await expect(done.first).to_contain_text("Ấp Tân Lập")
        await svc.settled()
        await tick(svc)
        assert oa_posted(svc, TAN_LAP_GROUP) and not oa_posted(svc, TAN_THANH_GROUP)
        await page.select_option("#group-select", TAN_LAP_GROUP)
        await expect(page.locator(".msg.group.from-oa .text", has_text=BODY)).to_have_count(1)
        await page.screenshot(path=str(folder / "demo-2-first-hamlet.png"))

        # Bà Sáu got her own copy and reads it; Chú Bảy answers "đã đọc" in the hamlet group.
        await as_person(page, svc.base_url, BA_SAU)
        await expect(page.locator(".msg.oa", has_text=BODY)).to_have_count(1)
        await page.click("#seen-button")
        await as_person(page, svc.base_url, CHU_BAY)
        await say_in_group(page, TAN_LAP_GROUP, "đã đọc")
        await svc.settled()

        # 3. Twenty minutes later Trần Thị Mai approves: Ấp Tân Thạnh gets it then.
        clock.advance(timedelta(minutes=20))
        await as_person(page, svc.base_url, HEAD_TAN_THANH)
        await say_in_group(page, COMMUNE_GROUP, "1")
        await eventually(lambda: svc.platform.group_chat_json(COMMUNE_GROUP)[-1]["from"] == "oa")
        await svc.settled()
        await tick(svc)
        assert oa_posted(svc, TAN_THANH_GROUP)

        # 4. The desk, on the same phone: reach counts households, the poor ones apart.
        await page.goto(f"{svc.base_url}/admin/login")
        await page.fill("#phone", OFFICIAL_PHONE)
        await page.fill("#password", DEMO_PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{svc.base_url}/admin/")
        await page.screenshot(path=str(folder / "demo-3-dashboard.png"), full_page=True)
        await page.click("nav a:text-is('Thông báo')")
        await page.click("text=" + TITLE)
        reach = page.locator("tr", has_text="Ấp Tân Lập").first
        await expect(reach).to_contain_text("2/6 (33%)")
        await expect(page.locator("tr", has_text="Ấp Tân Thạnh").first).to_contain_text("0/5 (0%)")
        # And why the others were not reached: Zalo's 7-day rule, said per hamlet.
        why = page.locator("ul.gaps li", has_text="Ấp Tân Lập")
        await expect(why).to_contain_text(
            "1 người được gửi tin riêng; 3 người chỉ có thể nhận qua nhóm"
        )
        await why.screenshot(path=str(folder / "demo-5-why.png"))
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await page.screenshot(path=str(folder / "demo-4-reach.png"), full_page=True)
        assert errors == []
