"""The service's few web pages, rendered through the one Jinja environment, in Vietnamese."""

from __future__ import annotations

import aiohttp
from sqlalchemy import select

from bot.clock import FakeClock
from broadcasts.models import Delivery
from broadcasts.setup import deps_for, run_tick
from tests.integration.test_broadcast_faults import firing_of, urgent_warning
from tests.service import running_service


async def test_a_tracked_link_shows_the_announcement_and_a_wrong_one_says_so(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        campaign_id = await urgent_warning(rt.sessions, deps_for(rt), clock.now())
        await run_tick(rt)
        broadcast = await firing_of(rt.sessions, campaign_id)
        async with rt.sessions() as session:
            token = await session.scalar(
                select(Delivery.link_token).where(Delivery.broadcast_id == broadcast.id).limit(1)
            )
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{svc.base_url}/l/{token}") as page:
                assert page.status == 200
                assert page.content_type == "text/html"
                body = await page.text()
            async with http.get(f"{svc.base_url}/l/khong-co") as missing:
                assert missing.status == 404
                refused = await missing.text()
        assert '<html lang="vi">' in body and "<h1>Thông báo</h1>" in body
        assert "đọc mã OTP" in body  # the announcement itself, paragraph by paragraph
        assert "Không tìm thấy thông báo" in refused and "đã hết hạn" in refused


async def test_a_poster_for_a_hamlet_without_a_group_says_what_to_do(database_url: str) -> None:
    async with running_service(database_url) as svc:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{svc.base_url}/groups/9999/poster") as page,
        ):
            assert page.status == 404
            body = await page.text()
        assert "Chưa in được áp phích" in body
        assert "<code>loa groups create --hamlet TÊN</code>" in body
