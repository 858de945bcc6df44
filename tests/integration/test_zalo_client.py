"""ZaloClient against the sandbox platform on loopback: sends, token refresh, retries, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.clock import FakeClock
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OA_ID, SANDBOX_OA_SECRET_KEY
from bot.sandbox.api import setup_sandbox
from bot.sandbox.demo import COMMUNE_GROUP_ID, HAMLETS
from bot.sandbox.platform import SandboxPlatform
from bot.zalo.client import ZaloClient
from bot.zalo.errors import (
    GroupDisabled,
    InvalidRequest,
    NotFollower,
    OutcomeUnknown,
    OutsideWindow,
    TransientHTTPError,
)
from bot.zalo.limiter import RateLimiter
from bot.zalo.oauth import refresh_tokens
from bot.zalo.tokens import TokenManager, TokenPair

RESIDENT = "4000000000000000001"
HAMLET_GROUP = HAMLETS[0][2]


class MemoryStore:
    def __init__(self, pair: TokenPair) -> None:
        self.pair: TokenPair | None = pair
        self.saves: list[TokenPair] = []

    async def load(self) -> TokenPair | None:
        return self.pair

    async def save(self, pair: TokenPair) -> None:
        self.pair = pair
        self.saves.append(pair)


@dataclass
class Env:
    platform: SandboxPlatform
    client: ZaloClient
    tokens: TokenManager
    store: MemoryStore
    clock: FakeClock
    sleeps: list[float]


AiohttpServer = Callable[..., Any]


@pytest.fixture
async def env(aiohttp_server: AiohttpServer) -> AsyncIterator[Env]:
    clock = FakeClock()
    platform = SandboxPlatform(
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_APP_SECRET,
        oa_secret_key=SANDBOX_OA_SECRET_KEY,
        oa_id=SANDBOX_OA_ID,
        webhook_url="",  # webhooks are exercised in test_sandbox_webhooks.py
        clock=clock,
        event_delay=0,
    )
    platform.seed_demo()
    platform.timeout_fault_seconds = 1.0
    app = web.Application()
    setup_sandbox(app, platform)
    server: TestServer = await aiohttp_server(app)
    base = str(server.make_url("")).rstrip("/")
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with aiohttp.ClientSession() as http:

        async def refresher(refresh_token: str) -> TokenPair:
            return await refresh_tokens(
                http, base, SANDBOX_APP_ID, SANDBOX_APP_SECRET, refresh_token, now=clock.now
            )

        store = MemoryStore(platform.issue_initial_tokens())
        tokens = TokenManager(store, refresher, now=clock.now, sleep=fake_sleep)
        client = ZaloClient(
            http,
            api_base=base,
            tokens=tokens,
            limiter=RateLimiter(4000),
            sleep=fake_sleep,
            timeout=0.3,
        )
        yield Env(platform, client, tokens, store, clock, sleeps)
    await platform.close()


def oa_texts(platform: SandboxPlatform, user_id: str) -> list[str]:
    return [m["text"] for m in platform.chat_json(user_id) if m["from"] == "oa"]


async def test_send_cs_text_lands_in_the_chat(env: Env) -> None:
    sent = await env.client.send_cs_text(RESIDENT, "Lịch họp thôn: 19h thứ Sáu.")
    assert sent.recipient_id == RESIDENT and sent.message_id
    chat = env.platform.chat_json(RESIDENT)
    assert chat[-1]["msg_id"] == sent.message_id
    assert chat[-1]["text"] == "Lịch họp thôn: 19h thứ Sáu." and chat[-1]["sent_by"] == "api"
    history = await env.client.user_conversation(RESIDENT)
    assert history[0]["message_id"] == sent.message_id and history[0]["src"] == 0


async def test_quote_image_buttons_and_group_sends(env: Env) -> None:
    await env.platform.user_send_text(RESIDENT, "Cho hỏi lịch tiêm?")
    quoted = env.platform.chat_json(RESIDENT)[-1]["msg_id"]
    reply = await env.client.send_cs_text(RESIDENT, "Thứ Hai tuần sau.", quote_message_id=quoted)
    assert env.platform.chat_json(RESIDENT)[-1]["quote_msg_id"] == quoted
    image = await env.client.send_cs_image(
        RESIDENT, "https://example.invalid/a.jpg", caption="Lịch tiêm"
    )
    buttons = await env.client.send_cs_buttons(
        RESIDENT,
        "Chọn mục cần hỏi:",
        [{"title": "Lịch tiêm", "type": "oa.query.show", "payload": "#lich"}],
    )
    assert len({reply.message_id, image.message_id, buttons.message_id}) == 3
    group = await env.client.send_group_text(HAMLET_GROUP, "[THÔNG BÁO] Họp ấp 19h thứ Sáu.")
    assert group.recipient_id == HAMLET_GROUP
    assert env.platform.group_chat_json(HAMLET_GROUP)[-1]["msg_id"] == group.message_id
    history = await env.client.group_conversation(HAMLET_GROUP)
    assert history[0]["message_id"] == group.message_id


async def test_expired_token_mid_run_is_refreshed_and_the_old_refresh_token_dies(env: Env) -> None:
    await env.client.send_cs_text(RESIDENT, "trước")
    first = env.store.pair
    assert first is not None
    env.platform.expire_access_tokens()  # the platform says -220; our clock still thinks it is fresh
    sent = await env.client.send_cs_text(RESIDENT, "sau")
    assert oa_texts(env.platform, RESIDENT)[-2:] == ["trước", "sau"]
    assert sent.message_id
    assert env.tokens.refresh_count == 1
    assert env.store.pair is not None and env.store.pair.refresh_token != first.refresh_token
    assert not env.platform.refresh_token_alive(first.refresh_token)
    assert env.platform.refresh_token_alive(env.store.pair.refresh_token)


async def test_injected_216_triggers_one_refresh_then_succeeds(env: Env) -> None:
    first = env.store.pair
    assert first is not None
    env.platform.inject("/v3.0/oa/message/cs", "-216", 1)
    await env.client.send_cs_text(RESIDENT, "xin chào")
    assert oa_texts(env.platform, RESIDENT) == ["xin chào"]
    assert env.tokens.refresh_count == 1
    assert not env.platform.refresh_token_alive(first.refresh_token)
    # Using the old access token now fails: refresh invalidated it.
    async with aiohttp.ClientSession() as http:
        url = env.client._base + "/v2.0/oa/getoa"
        async with http.get(url, headers={"access_token": first.access_token}) as resp:
            assert (await resp.json())["error"] == -216


@pytest.mark.parametrize("kind", ["-32", "-200"])
async def test_refused_sends_are_retried_and_delivered_once(env: Env, kind: str) -> None:
    env.platform.inject("/v3.0/oa/message/cs", kind, 2)
    sent = await env.client.send_cs_text(RESIDENT, f"thử {kind}")
    assert oa_texts(env.platform, RESIDENT) == [f"thử {kind}"]
    assert env.platform.chat_json(RESIDENT)[-1]["msg_id"] == sent.message_id
    assert len(env.sleeps) == 2  # two backoffs
    assert env.sleeps[1] >= env.sleeps[0] * 0.5  # growing ceiling with jitter


@pytest.mark.parametrize("kind", ["5xx", "timeout", "disconnect"])
async def test_a_send_whose_outcome_is_unknown_is_not_retried_blindly(env: Env, kind: str) -> None:
    env.platform.inject("/v3.0/oa/message/cs", kind, 1)
    with pytest.raises(OutcomeUnknown):
        await env.client.send_cs_text(RESIDENT, f"thử {kind}")
    assert (
        env.sleeps == []
    )  # a second copy could reach the resident: the caller reads the chat back
    assert oa_texts(env.platform, RESIDENT) == []


@pytest.mark.parametrize("kind", ["5xx", "timeout", "disconnect"])
async def test_reads_are_retried_through_transport_faults(env: Env, kind: str) -> None:
    env.platform.inject("/v3.0/oa/user/detail", kind, 2)
    detail = await env.client.user_detail(RESIDENT)
    assert detail["user_id"] == RESIDENT
    # aiohttp itself retries an idempotent GET once on a dropped keep-alive connection.
    assert len(env.sleeps) == (1 if kind == "disconnect" else 2)


async def test_retries_stop_at_max_attempts(env: Env) -> None:
    env.platform.inject("/v3.0/oa/user/detail", "5xx", 10)
    with pytest.raises(TransientHTTPError):
        await env.client.user_detail(RESIDENT)
    assert len(env.sleeps) == 4  # five attempts, four waits


async def test_outside_window_is_permanent_and_not_retried(env: Env) -> None:
    env.platform.set_last_interaction(RESIDENT, env.clock.now() - timedelta(days=8))
    with pytest.raises(OutsideWindow) as caught:
        await env.client.send_cs_text(RESIDENT, "muộn rồi")
    assert caught.value.code == -230 and not caught.value.transient
    assert env.sleeps == []
    assert oa_texts(env.platform, RESIDENT) == []


async def test_non_follower_and_disabled_group_errors(env: Env) -> None:
    await env.platform.unfollow(RESIDENT)
    with pytest.raises(NotFollower):
        await env.client.send_cs_text(RESIDENT, "x")
    env.platform.groups[HAMLET_GROUP].status = "disabled"
    with pytest.raises(GroupDisabled):
        await env.client.send_group_text(HAMLET_GROUP, "x")
    with pytest.raises(InvalidRequest):
        await env.client.send_cs_text(RESIDENT, "x" * 2001)
    assert env.sleeps == []


async def test_users_and_groups_reads(env: Env) -> None:
    detail = await env.client.user_detail(RESIDENT)
    assert detail["user_id"] == RESIDENT and detail["display_name"] == "Bà Sáu Nguyễn Thị Sáu"
    assert detail["user_is_follower"] is True
    page = await env.client.list_followers(0, 5, is_follower=True)
    assert page["count"] == 5 and all(isinstance(u["user_id"], str) for u in page["users"])
    groups = await env.client.list_groups()
    ids = {g["group_id"] for g in groups["groups"]}
    assert COMMUNE_GROUP_ID in ids and HAMLET_GROUP in ids
    info = await env.client.group_detail(HAMLET_GROUP)
    assert info["group_info"]["status"] == "enabled"
    members = await env.client.group_members(HAMLET_GROUP)
    assert RESIDENT in {m.get("user_id") for m in members["members"]}
    created = await env.client.create_group(
        "Tổ 5 - Ấp Tân Lập", "asset-new-1", [RESIDENT], "Tổ tự quản"
    )
    assert created["group_id"] in env.platform.groups and created["group_link"]


async def test_v2_message_is_shut_for_one_to_one(env: Env) -> None:
    token = await env.tokens.access_token()
    async with aiohttp.ClientSession() as http:
        body = {"recipient": {"user_id": RESIDENT}, "message": {"text": "v2"}}
        async with http.post(
            env.client._base + "/v2.0/oa/message", json=body, headers={"access_token": token}
        ) as resp:
            assert (await resp.json())["error"] == -240


async def test_priority_send_overtakes_broadcast_backlog(env: Env) -> None:
    env.client._limiter = RateLimiter(600, burst=1)  # 10 per second, so a queue forms
    broadcasts = [
        asyncio.create_task(env.client.send_group_text(HAMLET_GROUP, f"tin {i}")) for i in range(8)
    ]
    await asyncio.sleep(0.05)
    reply = await env.client.send_cs_text(RESIDENT, "trả lời ngay")
    done = len(env.platform.group_chat_json(HAMLET_GROUP))
    assert reply.message_id and done < 8
    await asyncio.gather(*broadcasts)
