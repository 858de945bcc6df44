"""When Zalo refuses the refresh token: alert the admins, then re-authorise through the OAuth flow."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
from sqlalchemy import select

from bot import jobs
from bot.clock import FakeClock
from bot.oa.oauth_routes import begin_connect
from bot.outbound.models import Alert
from tests.service import running_service

ADMIN = "3000000000000000008"  # Huỳnh Thanh Tâm, quản trị xã in the demo
BA_SAU = "4000000000000000001"


async def health(base_url: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/healthz") as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def test_refused_refresh_alerts_admins_and_a_new_grant_restores_service(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        settings = rt.settings
        svc.platform.revoke_refresh_tokens()  # e.g. three months unused: only a new grant helps
        clock.advance(
            timedelta(hours=21)
        )  # time for the early refresh; the access token lives 4 h more
        assert await jobs.check_tokens(rt) == "authorization_lost"
        assert (await health(svc.base_url))["status"] == "degraded"
        # The admins hear it through the OA while the old access token still works.
        await svc.settled()
        alert = [t for t in svc.oa_texts(ADMIN) if "loa zalo connect" in t]
        assert alert, "the admin alert"
        assert "Cảnh báo" in alert[0]
        assert await jobs.check_tokens(rt) == "authorization_lost"
        await svc.settled()
        assert len([t for t in svc.oa_texts(ADMIN) if "loa zalo connect" in t]) == 1  # told once

        # `loa zalo connect` prints the permission URL; the OA admin allows; Zalo calls us back.
        async with rt.sessions() as session:
            url = await begin_connect(session, settings, clock.now())
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as page:
                form_html = await page.text()
                assert page.status == 200 and "Cho phép" in form_html
            from urllib.parse import parse_qs, urlsplit

            query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            async with http.post(
                f"{settings.zalo_oauth_base}/v4/oa/permission", data=query
            ) as done:
                text = await done.text()
                assert done.status == 200, text
                assert "Đã kết nối Zalo OA" in text
        assert (await health(svc.base_url))["status"] == "ok"
        async with rt.sessions() as session:
            open_alerts = (
                await session.scalars(select(Alert).where(Alert.resolved_at.is_(None)))
            ).all()
        assert open_alerts == []

        clock.advance(
            timedelta(hours=5)
        )  # the old access token is dead by now; the new grant is used
        await svc.platform.user_send_text(BA_SAU, "vneid là gì")
        await svc.settled()
        assert svc.oa_texts(BA_SAU), "an answer after re-authorising"


async def test_a_forged_or_stale_callback_is_refused(database_url: str) -> None:
    async with running_service(database_url) as svc, aiohttp.ClientSession() as http:
        async with http.get(f"{svc.base_url}/zalo/oauth/callback?code=abc&state=not-ours") as resp:
            assert resp.status == 400
            assert "không hợp lệ" in await resp.text()
        async with http.get(f"{svc.base_url}/zalo/oauth/callback") as resp:
            assert resp.status == 400
