"""The sandbox's webhook sender: signed like Zalo, documented shapes, identical redelivery."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.clock import FakeClock, epoch_ms
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OA_ID, SANDBOX_OA_SECRET_KEY
from bot.sandbox.api import setup_sandbox
from bot.sandbox.demo import HAMLETS
from bot.sandbox.platform import SandboxPlatform

RESIDENT = "4000000000000000001"
NEIGHBOUR = "4000000000000000002"
HAMLET_GROUP = HAMLETS[0][2]


@dataclass
class Received:
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    status: int = 200

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


@dataclass
class Env:
    platform: SandboxPlatform
    received: Received
    base: str
    clock: FakeClock


@pytest.fixture
async def env(aiohttp_server: Callable[..., Any]) -> AsyncIterator[Env]:
    received = Received()

    async def webhook(request: web.Request) -> web.Response:
        received.bodies.append(await request.read())
        received.headers.append(dict(request.headers))
        return web.json_response({"ok": True}, status=received.status)

    receiver_app = web.Application()
    receiver_app.router.add_post("/zalo/webhook", webhook)
    receiver: TestServer = await aiohttp_server(receiver_app)
    clock = FakeClock()
    platform = SandboxPlatform(
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_APP_SECRET,
        oa_secret_key=SANDBOX_OA_SECRET_KEY,
        oa_id=SANDBOX_OA_ID,
        webhook_url=str(receiver.make_url("/zalo/webhook")),
        clock=clock,
        event_delay=0,
    )
    platform.seed_demo()
    app = web.Application()
    setup_sandbox(app, platform)
    server: TestServer = await aiohttp_server(app)
    yield Env(platform, received, str(server.make_url("")).rstrip("/"), clock)
    await platform.close()


def signature_ok(body: bytes, header: str) -> bool:
    ts = json.loads(body)["timestamp"]
    digest = hashlib.sha256(
        SANDBOX_APP_ID.encode() + body + ts.encode() + SANDBOX_OA_SECRET_KEY.encode()
    ).hexdigest()
    return header == f"mac={digest}"


async def test_user_text_event_is_signed_and_shaped_like_zalo(env: Env) -> None:
    event, status = await env.platform.user_send_text(RESIDENT, "Khi nào họp thôn?")
    assert status == 200
    body, headers = env.received.bodies[0], env.received.headers[0]
    assert headers["Content-Type"].startswith("application/json")
    assert signature_ok(body, headers["X-ZEvent-Signature"])
    got = json.loads(body)
    assert got == event
    assert got["app_id"] == SANDBOX_APP_ID and got["event_name"] == "user_send_text"
    assert got["timestamp"] == epoch_ms(env.clock.now()) and len(got["timestamp"]) == 13
    assert got["sender"] == {"id": RESIDENT} and got["recipient"] == {"id": SANDBOX_OA_ID}
    assert got["message"]["text"] == "Khi nào họp thôn?" and isinstance(
        got["message"]["msg_id"], str
    )
    assert isinstance(got["user_id_by_app"], str)


async def test_redeliver_sends_identical_bytes_with_num_retry(env: Env) -> None:
    emitted = await env.platform.user_send_text(RESIDENT, "Cho hỏi về BHYT")
    env.clock.advance(3600)
    status = await env.platform.redeliver(emitted.event_id)
    assert status == 200
    assert env.received.bodies[0] == env.received.bodies[1]
    assert (
        env.received.headers[0]["X-ZEvent-Signature"]
        == env.received.headers[1]["X-ZEvent-Signature"]
    )
    assert env.received.headers[1]["num_retry"] == "1"
    assert [d.num_retry for d in env.platform.deliveries] == [0, 1]


async def test_cs_send_emits_echo_then_receipt_and_seen_lists_msg_ids(env: Env) -> None:
    token = env.platform.issue_initial_tokens().access_token
    async with aiohttp.ClientSession() as http:
        ids = []
        for text in ("Một", "Hai"):
            async with http.post(
                env.base + "/v3.0/oa/message/cs",
                json={"recipient": {"user_id": RESIDENT}, "message": {"text": text}},
                headers={"access_token": token},
            ) as resp:
                ids.append((await resp.json())["data"]["message_id"])
    await env.platform.wait_idle()
    events = env.received.events()
    assert (
        sorted(e["event_name"] for e in events)
        == ["oa_send_text"] * 2 + ["user_received_message"] * 2
    )
    for e in events:
        assert e["sender"] == {"id": SANDBOX_OA_ID} and e["recipient"] == {"id": RESIDENT}
    receipts = [
        e["message"]["msg_id"] for e in events if e["event_name"] == "user_received_message"
    ]
    assert sorted(receipts) == sorted(ids)
    seen, status = await env.platform.mark_seen(RESIDENT)
    assert status == 200 and seen["event_name"] == "user_seen_message"
    assert sorted(seen["message"]["msg_ids"]) == sorted(ids)
    # Nothing left unseen: no second event.
    again = await env.platform.mark_seen(RESIDENT)
    assert again.status is None and len(env.received.bodies) == 5


async def test_follow_unfollow_oa_manager_and_group_events(env: Env) -> None:
    follow, _ = await env.platform.follow("4000000000000000006")
    assert follow["event_name"] == "follow" and follow["follower"] == {"id": "4000000000000000006"}
    assert follow["oa_id"] == SANDBOX_OA_ID and "sender" not in follow
    unfollow, _ = await env.platform.unfollow("4000000000000000006")
    assert unfollow["event_name"] == "unfollow"
    echo, _ = await env.platform.oa_manager_send_text(RESIDENT, "Cán bộ xã trả lời")
    assert echo["event_name"] == "oa_send_text" and echo["sender"]["id"] == SANDBOX_OA_ID
    assert env.platform.chat_json(RESIDENT)[-1]["sent_by"] == "oa_manager"
    group, _ = await env.platform.user_send_group_text(HAMLET_GROUP, NEIGHBOUR, "1")
    assert group["event_name"] == "user_send_group_text"
    assert group["sender"] == {"id": NEIGHBOUR} and group["recipient"] == {"id": HAMLET_GROUP}
    for body, headers in zip(env.received.bodies, env.received.headers, strict=True):
        assert signature_ok(body, headers["X-ZEvent-Signature"])


async def test_media_events_carry_attachments(env: Env) -> None:
    image, _ = await env.platform.user_send_image(RESIDENT, caption="ảnh đường hỏng")
    assert image["event_name"] == "user_send_image" and image["message"]["text"] == "ảnh đường hỏng"
    assert image["message"]["attachments"][0]["type"] == "image"
    assert image["message"]["attachments"][0]["payload"]["url"]
    sticker, _ = await env.platform.user_send_sticker(RESIDENT)
    audio, _ = await env.platform.user_send_audio(RESIDENT)
    file, _ = await env.platform.user_send_file(RESIDENT)
    kinds = [e["message"]["attachments"][0]["type"] for e in (sticker, audio, file)]
    assert kinds == ["sticker", "audio", "file"]
    assert file["message"]["attachments"][0]["payload"]["name"] == "don.pdf"


async def test_failed_delivery_is_recorded(env: Env) -> None:
    env.received.status = 503
    emitted = await env.platform.user_send_text(RESIDENT, "alo")
    assert emitted.status == 503
    env.received.status = 200
    assert await env.platform.redeliver(emitted.event_id) == 200
    assert [d.status for d in env.platform.deliveries] == [503, 200]
