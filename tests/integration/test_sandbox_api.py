"""The sandbox's OAuth v4 routes and its control API, over HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OA_ID, SANDBOX_OA_SECRET_KEY
from bot.sandbox.api import setup_sandbox
from bot.sandbox.demo import HAMLETS
from bot.sandbox.platform import SandboxPlatform
from bot.zalo.errors import OAuthError
from bot.zalo.oauth import (
    code_challenge,
    exchange_code,
    new_code_verifier,
    permission_url,
    refresh_tokens,
)

RESIDENT = "4000000000000000001"
HAMLET_GROUP = HAMLETS[0][2]


@pytest.fixture
async def platform() -> AsyncIterator[SandboxPlatform]:
    p = SandboxPlatform(
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_APP_SECRET,
        oa_secret_key=SANDBOX_OA_SECRET_KEY,
        oa_id=SANDBOX_OA_ID,
        webhook_url="",
        clock=FakeClock(),
        event_delay=0,
    )
    p.seed_demo()
    yield p
    await p.close()


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], platform: SandboxPlatform) -> TestClient:
    app = web.Application()
    setup_sandbox(app, platform)
    return await aiohttp_client(app)


async def getoa_error(client: TestClient, token: str) -> int:
    resp = await client.get("/v2.0/oa/getoa", headers={"access_token": token})
    return int((await resp.json())["error"])


def base(client: TestClient) -> str:
    return str(client.make_url("")).rstrip("/")


async def grant(client: TestClient, challenge: str, state: str = "st-1") -> dict[str, list[str]]:
    url = permission_url(base(client), SANDBOX_APP_ID, "http://127.0.0.1:9/cb", challenge, state)
    page = await client.get(url[len(base(client)) :])
    assert page.status == 200
    html = await page.text()
    assert "Cho phép" in html and "allow-button" in html
    resp = await client.post(
        "/v4/oa/permission",
        data={
            "app_id": SANDBOX_APP_ID,
            "redirect_uri": "http://127.0.0.1:9/cb",
            "code_challenge": challenge,
            "state": state,
        },
        allow_redirects=False,
    )
    assert resp.status == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/cb"
    return parse_qs(location.query)


async def test_pkce_code_exchange_and_refresh_rotation(
    client: TestClient, platform: SandboxPlatform
) -> None:
    verifier = new_code_verifier()
    query = await grant(client, code_challenge(verifier))
    assert query["oa_id"] == [SANDBOX_OA_ID] and query["state"] == ["st-1"]
    code = query["code"][0]
    async with aiohttp.ClientSession() as http:
        pair = await exchange_code(
            http,
            base(client),
            SANDBOX_APP_ID,
            SANDBOX_APP_SECRET,
            code,
            verifier,
            now=platform.clock.now,
        )
        assert int((pair.expires_at - platform.clock.now()).total_seconds()) == 90000
        # The code is single use.
        with pytest.raises(OAuthError):
            await exchange_code(
                http, base(client), SANDBOX_APP_ID, SANDBOX_APP_SECRET, code, verifier
            )
        new = await refresh_tokens(
            http, base(client), SANDBOX_APP_ID, SANDBOX_APP_SECRET, pair.refresh_token
        )
        assert new.refresh_token != pair.refresh_token
        # The used refresh token gives an error body without access_token.
        with pytest.raises(OAuthError):
            await refresh_tokens(
                http, base(client), SANDBOX_APP_ID, SANDBOX_APP_SECRET, pair.refresh_token
            )
        # The wrong app secret is refused.
        with pytest.raises(OAuthError):
            await refresh_tokens(http, base(client), SANDBOX_APP_ID, "wrong", new.refresh_token)
    resp = await client.get("/v2.0/oa/getoa", headers={"access_token": pair.access_token})
    assert (await resp.json())["error"] == -216
    resp = await client.get("/v2.0/oa/getoa", headers={"access_token": new.access_token})
    body = await resp.json()
    assert body["error"] == 0 and body["data"]["oaid"] == SANDBOX_OA_ID


async def test_wrong_verifier_is_refused(client: TestClient) -> None:
    query = await grant(client, code_challenge(new_code_verifier()))
    async with aiohttp.ClientSession() as http:
        with pytest.raises(OAuthError):
            await exchange_code(
                http,
                base(client),
                SANDBOX_APP_ID,
                SANDBOX_APP_SECRET,
                query["code"][0],
                new_code_verifier(),
            )


async def test_token_form_and_header_shape(client: TestClient) -> None:
    initial = await (await client.get("/sandbox/api/tokens/initial")).json()
    resp = await client.post(
        "/v4/oa/access_token",
        data={
            "refresh_token": initial["refresh_token"],
            "app_id": SANDBOX_APP_ID,
            "grant_type": "refresh_token",
        },
        headers={"secret_key": SANDBOX_APP_SECRET},
    )
    body = await resp.json()
    assert (
        set(body) == {"access_token", "refresh_token", "expires_in"}
        and body["expires_in"] == "90000"
    )


async def test_missing_and_expired_tokens(client: TestClient, platform: SandboxPlatform) -> None:
    resp = await client.get("/v2.0/oa/getoa")
    assert (await resp.json()) == {"error": -216, "message": "Access token is invalid"}
    token = platform.issue_initial_tokens().access_token
    platform.clock.advance(25 * 3600 + 1)  # type: ignore[attr-defined]
    resp = await client.get("/v2.0/oa/getoa", headers={"access_token": token})
    assert (await resp.json())["error"] == -220


async def test_control_api_round_trip(client: TestClient, platform: SandboxPlatform) -> None:
    users = (await (await client.get("/sandbox/api/users")).json())["users"]
    assert any(u["user_id"] == RESIDENT for u in users)
    sent = await (
        await client.post(f"/sandbox/api/users/{RESIDENT}/messages", json={"text": "Xin chào"})
    ).json()
    assert sent["event"]["event_name"] == "user_send_text" and sent["status"] is None
    await client.post(f"/sandbox/api/users/{RESIDENT}/oa-manager", json={"text": "Chào bà"})
    chat = await (await client.get(f"/sandbox/api/users/{RESIDENT}/chat")).json()
    assert [(m["from"], m["text"]) for m in chat["messages"]] == [
        ("user", "Xin chào"),
        ("oa", "Chào bà"),
    ]
    seen = await (await client.post(f"/sandbox/api/users/{RESIDENT}/seen", json={})).json()
    assert seen["event"]["message"]["msg_ids"] == [chat["messages"][1]["msg_id"]]
    group = await (
        await client.post(
            f"/sandbox/api/groups/{HAMLET_GROUP}/messages", json={"user_id": RESIDENT, "text": "1"}
        )
    ).json()
    assert group["event"]["recipient"] == {"id": HAMLET_GROUP}
    group_chat = await (await client.get(f"/sandbox/api/groups/{HAMLET_GROUP}/chat")).json()
    assert group_chat["messages"][-1]["text"] == "1"
    unfollow = await (await client.post(f"/sandbox/api/users/{RESIDENT}/unfollow")).json()
    assert unfollow["event"]["event_name"] == "unfollow" and not platform.users[RESIDENT].follower
    fault = await client.post(
        "/sandbox/api/faults", json={"path_prefix": "/v2.0/oa/getoa", "kind": "-32"}
    )
    assert (await fault.json())["faults"][0]["kind"] == "-32"
    token = (await (await client.get("/sandbox/api/tokens/initial")).json())["access_token"]
    assert await getoa_error(client, token) == -32
    assert await getoa_error(client, token) == 0
    await client.post("/sandbox/api/tokens/expire")
    assert await getoa_error(client, token) == -220
    deliveries = (await (await client.get("/sandbox/api/webhooks")).json())["deliveries"]
    assert deliveries and deliveries[0]["event_name"] == "user_send_text"
    redo = await client.post(f"/sandbox/api/webhooks/{deliveries[0]['event_id']}/redeliver")
    assert redo.status == 200
    assert (await client.post("/sandbox/api/webhooks/nope/redeliver")).status == 404
    assert (await client.post("/sandbox/api/users/0/messages", json={"text": "x"})).status == 404


async def test_phone_page_is_served(client: TestClient) -> None:
    page = await client.get("/sandbox/")
    assert page.status == 200
    html = await page.text()
    for marker in ("resident-select", "message-input", "send-button", "app.js"):
        assert marker in html
    assert (await client.get("/sandbox/static/app.js")).status == 200
    assert (await client.get("/sandbox/static/style.css")).status == 200
