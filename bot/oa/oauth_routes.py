"""Re-authorising the OA: `loa zalo connect` prints Zalo's permission URL, this route stores the grant."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.keys import RUNTIME
from bot.oa.models import OAuthState
from bot.outbound.alerts import AUTH_ALERT, resolve_alerts
from bot.web.pages import message_page
from bot.zalo.oauth import (
    code_challenge,
    exchange_code,
    new_code_verifier,
    new_state,
    permission_url,
)

log = logging.getLogger(__name__)

STATE_LIFETIME = timedelta(minutes=30)
CALLBACK_PATH = "/zalo/oauth/callback"


def redirect_uri(settings: Settings) -> str:
    """The callback address registered in the Zalo console."""
    return settings.base_url + CALLBACK_PATH


async def begin_connect(session: AsyncSession, settings: Settings, now: datetime) -> str:
    """Store a fresh PKCE verifier under a new state and return the OA permission URL."""
    verifier, state = new_code_verifier(), new_state()
    session.add(OAuthState(state=state, code_verifier=verifier, created_at=now))
    await session.commit()
    return permission_url(
        settings.zalo_oauth_base,
        settings.zalo_app_id,
        redirect_uri(settings),
        code_challenge(verifier),
        state,
    )


async def oauth_callback(request: web.Request) -> web.Response:
    """Zalo redirects here with ?code&state after an OA admin grants access."""
    rt = request.app[RUNTIME]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not code or not state:
        return message_page(
            request,
            "Thiếu thông tin cấp quyền",
            ["Đường dẫn không có mã cấp quyền. Hãy chạy lại lệnh kết nối."],
            status=400,
        )
    async with rt.sessions() as session:
        pending = await session.get(OAuthState, state)
        if pending is None or rt.clock.now() - pending.created_at > STATE_LIFETIME:
            return message_page(
                request,
                "Yêu cầu cấp quyền không hợp lệ",
                ["Yêu cầu đã hết hạn hoặc không do hệ thống tạo. Hãy chạy lại lệnh kết nối."],
                status=400,
            )
        verifier = pending.code_verifier
        await session.delete(pending)
        await session.commit()
    try:
        pair = await exchange_code(
            rt.http,
            rt.settings.zalo_oauth_base,
            rt.settings.zalo_app_id,
            rt.settings.zalo_app_secret,
            code,
            verifier,
            now=rt.clock.now,
        )
    except Exception as exc:  # noqa: BLE001 - any failure means the same page: grant again
        log.error("OAuth code exchange failed: %s", exc)  # noqa: TRY400 - Zalo's answer says why
        return message_page(
            request,
            "Chưa kết nối được",
            ["Zalo không chấp nhận mã cấp quyền. Hãy chạy lại lệnh kết nối."],
            status=502,
        )
    await rt.tokens.install(pair)
    async with rt.sessions() as session:
        await resolve_alerts(session, rt.clock.now(), AUTH_ALERT)
        await session.commit()
    rt.zalo_status = "ok"
    log.info("OA access granted; new token pair stored")
    return message_page(
        request,
        "Đã kết nối Zalo OA",
        ["Hệ thống đã nhận quyền mới và hoạt động trở lại. Bạn có thể đóng trang này."],
    )
