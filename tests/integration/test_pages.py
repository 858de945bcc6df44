"""The service's few web pages, rendered through the one Jinja environment, in Vietnamese."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FakeClock
from bot.config import Settings
from broadcasts.models import Delivery
from broadcasts.setup import deps_for, run_tick
from tests.integration.test_broadcast_faults import firing_of, urgent_warning
from tests.service import free_port, running_service


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


async def test_the_root_in_sandbox_mode_offers_the_phone_page_and_the_desk(
    database_url: str,
) -> None:
    async with running_service(database_url) as svc, aiohttp.ClientSession() as http:
        async with http.get(f"{svc.base_url}/") as root:
            assert root.status == 200
            body = await root.text()
        assert '<html lang="vi">' in body
        assert 'href="/sandbox/">Điện thoại thử nghiệm</a>' in body
        assert 'href="/admin/login">Bàn làm việc của cán bộ</a>' in body
        for path in ("/sandbox/", "/admin/login"):
            async with http.get(f"{svc.base_url}{path}") as linked:
                assert linked.status == 200, path


async def test_the_root_of_a_service_on_the_real_zalo_leads_to_the_desk_sign_in(
    database_url: str, aiohttp_client: Callable[..., Any]
) -> None:
    zalo = f"http://127.0.0.1:{free_port()}"  # nothing listens: nothing may call Zalo here
    settings = Settings.from_env(
        {
            "LOA_DATABASE_URL": database_url,
            "ZALO_APP_ID": "1234567890123456789",
            "ZALO_APP_SECRET": "app-secret",
            "ZALO_OA_SECRET_KEY": "oa-secret-key",
            "ZALO_OA_ID": "9876543210987654321",
            "ZALO_API_BASE": zalo,
            "ZALO_OAUTH_BASE": zalo,
        }
    )
    client = await aiohttp_client(create_app(settings, clock=FakeClock(), start_jobs=False))
    root = await client.get("/", allow_redirects=False)
    assert root.status == 302 and root.headers["Location"] == "/admin/"
    signin = await client.get("/")
    assert signin.status == 200 and signin.url.path == "/admin/login"
    body = await signin.text()
    assert "Đăng nhập bàn làm việc" in body and "/sandbox/" not in body
    assert (await client.get("/sandbox/")).status == 404
