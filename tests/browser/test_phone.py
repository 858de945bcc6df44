"""The sandbox phone page in real Chromium: a resident asks, the bot answers, the group chats show
(whom one acts as, mentions by name, posts of several lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import expect
from sqlalchemy import select

from bot.db.migrate import upgrade_async
from bot.outbound.models import OutboundMessage
from tests.service import eventually, running_service

BA_SAU = "4000000000000000001"
PHONE = {"width": 360, "height": 740}
HEAD_TAN_LAP = "3000000000000000001"
OFFICIAL = "3000000000000000007"
COMMUNE_GROUP = "5000000000000000100"
LONG_NAME = "Nguyễn Thị Ngọc Bích Phượng Hoàng Kim Loan"


async def test_a_resident_asks_on_the_phone_page_and_reads_the_answer(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    async with running_service(url) as svc:
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{svc.base_url}/sandbox/")
        await page.select_option("#resident-select", BA_SAU)
        await page.fill("#message-input", "ho ngheo vay von co can the chap ko")
        await page.click("#send-button")
        answer = page.locator(".msg.oa").last
        await answer.wait_for(timeout=10_000)
        text = await answer.inner_text()
        assert "xin trả lời" in text or "Ý bà con là" in text
        assert (await page.locator(".msg.user").last.inner_text()).startswith(
            "ho ngheo vay von co can the chap ko"
        )
        await page.screenshot(path=str(tmp_path / "phone.png"))

        await page.click("#seen-button")

        async def seen() -> bool:
            async with svc.runtime.sessions() as s:
                row = await s.scalar(
                    select(OutboundMessage).where(OutboundMessage.recipient_id == BA_SAU)
                )
                return row is not None and row.seen_at is not None

        await eventually(seen, what="the seen mark to reach the bot")

        await page.click("#tab-groups")
        await page.wait_for_selector("#group-select option", state="attached")
        names = await page.locator("#group-select option").all_inner_texts()
        assert any("Ấp Tân Lập" in n for n in names)
        assert errors == []


async def test_the_picker_shows_each_persons_role_and_whole_name_on_a_small_phone(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    async with running_service(url) as svc:
        svc.platform.add_user("4000000000000000099", LONG_NAME, hamlet="Ấp Phú Lợi")
        page = await browser.new_page(viewport=PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{svc.base_url}/sandbox/?user={HEAD_TAN_LAP}")
        name, role = page.locator("#person-name"), page.locator("#person-role")
        await expect(name).to_have_text("Nguyễn Văn Hùng")  # once the page has loaded the people
        await expect(role).to_have_text("Trưởng ấp · Ấp Tân Lập")
        await expect(role).to_be_visible()
        choices = await page.locator("#resident-select option").all_inner_texts()
        assert "Nguyễn Văn Hùng · Trưởng ấp · Ấp Tân Lập" in choices
        assert "Đặng Quốc Bảo · Cán bộ xã" in choices
        assert "Phạm Minh Tuấn · Tổ công nghệ số cộng đồng · Ấp Tân Lập" in choices
        assert "Bà Sáu Nguyễn Thị Sáu · Người dân · Ấp Tân Lập" in choices

        await page.select_option("#resident-select", "4000000000000000099")
        await expect(name).to_have_text(LONG_NAME)
        await expect(role).to_have_text("Người dân · Ấp Phú Lợi")
        fits = await name.evaluate(
            "n => n.scrollWidth <= n.clientWidth && n.getBoundingClientRect().right <= innerWidth"
        )
        assert fits, "the long name is cut off or runs off the screen"
        assert errors == []


async def test_a_two_line_post_arrives_as_one_message_and_mentions_read_as_names(
    browser: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'loa.db'}"
    await upgrade_async(url)
    async with running_service(url) as svc:
        page = await browser.new_page(viewport=PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{svc.base_url}/sandbox/?user={OFFICIAL}")
        await page.click("#tab-groups")
        await page.select_option("#group-select", COMMUNE_GROUP)
        box = page.locator("#group-input")
        one_line = (await box.bounding_box())["height"]
        await box.click()
        await page.keyboard.type("#thongbao Họp dân về nước sạch")
        await page.keyboard.press("Enter")  # a new line, as on a phone: nothing is sent yet
        await page.keyboard.type("Tối thứ Sáu 19h30 tại nhà văn hoá.")
        assert (await box.bounding_box())["height"] > one_line  # the box grew to show both lines
        assert svc.platform.group_chat_json(COMMUNE_GROUP) == []
        await page.keyboard.press("Control+Enter")

        post = "#thongbao Họp dân về nước sạch\nTối thứ Sáu 19h30 tại nhà văn hoá."
        await eventually(
            lambda: svc.platform.group_chat_json(COMMUNE_GROUP), what="the post to reach the group"
        )
        sent = [m for m in svc.platform.group_chat_json(COMMUNE_GROUP) if m["from"] == "user"]
        assert [m["text"] for m in sent] == [post]
        assert await box.input_value() == ""
        mine = page.locator(".msg.group.mine .text")
        await mine.wait_for(timeout=10_000)
        assert await mine.inner_text() == post

        # The bot asks each head to approve in the group, mentioning them: Zalo shows the name.
        head = page.locator(".msg.group.from-oa .mention", has_text="@Nguyễn Văn Hùng")
        await head.first.wait_for(timeout=10_000)
        svc.platform.api_send_group(
            {
                "recipient": {"group_id": COMMUNE_GROUP},
                "message": {
                    "text": "Mời [@5000000000000000100] và [@3999999999999999999] họp giao ban"
                },
            }
        )
        invite = page.locator(".msg.group.from-oa .text", has_text="họp giao ban")
        await expect(invite).to_have_text("Mời @Tất cả và @3999999999999999999 họp giao ban")
        assert "[@" not in await page.locator("#group-chat").inner_text()
        await page.screenshot(path=str(tmp_path / "phone-group.png"))
        assert errors == []
