"""The sandbox phone page in real Chromium: a resident asks, the bot answers, the group chats show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.db.migrate import upgrade_async
from bot.outbound.models import OutboundMessage
from tests.service import eventually, running_service

BA_SAU = "4000000000000000001"


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
