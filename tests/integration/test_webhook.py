"""The webhook's contract: what is stored, what is answered, and what is refused."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.config import Settings
from bot.db.engine import make_engine, make_sessionmaker
from bot.inbound.inbox import InboxWriter
from bot.inbound.models import InboxEvent
from bot.inbound.webhook import zalo_webhook
from bot.keys import INBOX, SETTINGS
from tests.signing import signed, text_event


@pytest.fixture
async def hook(database_url: str) -> AsyncIterator[tuple[TestClient, list[list[int]], object]]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    handed: list[list[tuple[int, str]]] = []
    writer = InboxWriter(engine, FakeClock(), on_stored=handed.append)
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = Settings.from_env({})
    app[INBOX] = writer
    app.router.add_post("/zalo/webhook", zalo_webhook)
    writer.start()
    async with TestClient(TestServer(app)) as client:
        yield client, handed, sessions
    await writer.stop()
    await engine.dispose()


async def stored(sessions: object) -> list[InboxEvent]:
    async with sessions() as session:  # type: ignore[operator]
        return list((await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all())


async def test_signed_event_is_stored_once_and_handed_on(hook) -> None:  # type: ignore[no-untyped-def]
    client, handed, sessions = hook
    body, headers = signed(text_event("u1", "m1", "vay vốn hộ nghèo"))
    first = await client.post("/zalo/webhook", data=body, headers=headers)
    again = await client.post("/zalo/webhook", data=body, headers={**headers, "num_retry": "1"})
    assert (first.status, (await first.json())["status"]) == (200, "ok")
    assert (again.status, (await again.json())["status"]) == (200, "duplicate")
    rows = await stored(sessions)
    assert [(r.dedupe_key, r.event_name, r.body) for r in rows] == [
        ("user_send_text:m1", "user_send_text", body.decode())
    ]
    assert handed == [[(rows[0].id, "user_send_text")]]


async def test_bad_signature_gets_401_and_stores_nothing(hook) -> None:  # type: ignore[no-untyped-def]
    client, handed, sessions = hook
    body, headers = signed(text_event("u1", "m1", "xin chào"), secret="not-the-oa-secret")
    assert (await client.post("/zalo/webhook", data=body, headers=headers)).status == 401
    _, good = signed(text_event("u1", "m1", "xin chào"))
    tampered = body.replace("chào".encode(), b"chao")
    assert (await client.post("/zalo/webhook", data=tampered, headers=good)).status == 401
    unsigned = {"Content-Type": "application/json"}
    assert (await client.post("/zalo/webhook", data=body, headers=unsigned)).status == 401
    assert await stored(sessions) == [] and handed == []


async def test_console_url_check_gets_200_and_stores_nothing(hook) -> None:  # type: ignore[no-untyped-def]
    client, _, sessions = hook
    assert (
        await client.post("/zalo/webhook", data=b"", headers={"Content-Type": "application/json"})
    ).status == 200
    assert (
        await client.post("/zalo/webhook", data=b"{}", headers={"Content-Type": "application/json"})
    ).status == 200
    assert await stored(sessions) == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"\xff\xfe{}", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"event_name": "user_send_text"}', "text/plain", 415),
        (b"x" * (1024 * 1024 + 10), "application/json", 413),
    ],
)
async def test_malformed_requests_get_a_clear_4xx(
    hook, body: bytes, content_type: str, status: int
) -> None:  # type: ignore[no-untyped-def]
    client, _, sessions = hook
    # A large body goes as a stream: aiohttp warns that raw bytes that size would block its loop.
    data = io.BytesIO(body) if len(body) > 1024 * 1024 else body
    resp = await client.post(
        "/zalo/webhook",
        data=data,
        headers={"Content-Type": content_type, "X-ZEvent-Signature": "mac=00"},
    )
    assert resp.status == status
    assert await stored(sessions) == []


async def test_signed_event_without_name_is_refused(hook) -> None:  # type: ignore[no-untyped-def]
    client, _, sessions = hook
    payload = text_event("u1", "m1", "x")
    del payload["event_name"]
    body, headers = signed(payload)
    assert (await client.post("/zalo/webhook", data=body, headers=headers)).status == 400
    assert await stored(sessions) == []


async def test_unknown_and_long_and_late_events_are_accepted(hook) -> None:  # type: ignore[no-untyped-def]
    client, _, sessions = hook
    unknown = {
        "app_id": "1",
        "event_name": "user_click_chatnow",
        "timestamp": "1000",
        "user_id": "u9",
    }
    long_text = text_event("u1", "m-long", "ạ" * 5000)
    two_hours_old = text_event("u1", "m-late", "hỏi lại", timestamp="1000000000000")
    for payload in (unknown, long_text, two_hours_old):
        body, headers = signed(payload)
        assert (await client.post("/zalo/webhook", data=body, headers=headers)).status == 200
    assert [r.event_name for r in await stored(sessions)] == [
        "user_click_chatnow",
        "user_send_text",
        "user_send_text",
    ]


async def test_a_burst_is_stored_completely_in_few_commits(hook) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    client, handed, sessions = hook
    requests = []
    for i in range(200):
        body, headers = signed(text_event(f"u{i % 7}", f"burst-{i}", f"câu {i}"))
        requests.append(client.post("/zalo/webhook", data=body, headers=headers))
    responses = await asyncio.gather(*requests)
    assert all(r.status == 200 for r in responses)
    async with sessions() as session:  # type: ignore[operator]
        assert await session.scalar(select(func.count()).select_from(InboxEvent)) == 200
    assert sum(len(batch) for batch in handed) == 200
    assert len(handed) < 200  # batched: fewer commits than events


async def test_an_odd_sized_batch_with_duplicates_stores_each_event_once(database_url: str) -> None:
    import asyncio

    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    handed: list[list[tuple[int, str]]] = []
    writer = InboxWriter(engine, FakeClock(), on_stored=handed.append)
    writer.start()
    try:
        old = await asyncio.gather(
            *(writer.accept(f"old-{i}", "user_send_text", "{}") for i in range(5))
        )
        assert old == [True] * 5
        handed.clear()
        keys = (
            [f"new-{i}" for i in range(37)]
            + [f"old-{i}" for i in range(5)]
            + ["new-3", "new-36", "new-0"]
        )
        fresh = await asyncio.gather(
            *(writer.accept(k, "user_received_message", "{}") for k in keys)
        )
        # A key stored before, or earlier in the same batch, is a duplicate.
        assert fresh == [True] * 37 + [False] * 8
        async with sessions() as session:
            result = await session.execute(select(InboxEvent.dedupe_key, InboxEvent.id))
            ids = {key: ident for key, ident in result.all()}
        assert len(ids) == 42
        assert sorted(i for batch in handed for i, _ in batch) == sorted(
            ids[f"new-{i}"] for i in range(37)
        )
    finally:
        await writer.stop()
        await engine.dispose()
