"""The whole service against the sandbox platform on loopback: what a resident sees, exactly once."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from sqlalchemy import select

from bot.inbound.models import InboxEvent
from bot.oa.models import ZaloToken
from bot.outbound.models import OutboundMessage, OutboxStatus
from tests.service import running_service
from tests.signing import signed, text_event

BA_SAU = "4000000000000000001"


async def test_a_signed_question_is_answered_exactly_once(database_url: str) -> None:
    async with running_service(database_url) as svc:
        emission = await svc.platform.user_send_text(
            BA_SAU, "Hộ nghèo vay vốn ngân hàng chính sách lãi suất bao nhiêu?"
        )
        assert emission.status == 200
        await svc.settled()
        answers = svc.oa_texts(BA_SAU)
        assert answers, "the answer"
        await svc.settled()
        assert svc.oa_texts(BA_SAU) == answers and len(answers) == 1
        assert answers[0].startswith("UBND Xã Tân Hòa xin trả lời:")
        async with svc.runtime.sessions() as s:
            row = await s.scalar(select(OutboundMessage))
            assert row is not None and row.status == OutboxStatus.SENT
            # Zalo's receipt came back through the webhook and was matched by message id.
            assert row.zalo_message_id and row.received_at is not None


async def test_the_same_delivery_twice_is_answered_once(database_url: str) -> None:
    async with running_service(database_url) as svc:
        emission = await svc.platform.user_send_text(BA_SAU, "thẻ bhyt hộ nghèo có mất tiền ko")
        assert await svc.platform.redeliver(emission.event_id) == 200
        assert await svc.platform.redeliver(emission.event_id) == 200
        await svc.settled()
        assert svc.oa_texts(BA_SAU), "the answer"
        await svc.settled()
        assert len(svc.oa_texts(BA_SAU)) == 1
        async with svc.runtime.sessions() as s:
            keys = (
                await s.scalars(
                    select(InboxEvent.dedupe_key).where(InboxEvent.event_name == "user_send_text")
                )
            ).all()
        assert len(keys) == 1


async def test_a_bad_signature_gets_401_and_nothing_is_stored(database_url: str) -> None:
    async with running_service(database_url) as svc:
        body, headers = signed(
            text_event(BA_SAU, "forged-1", "chuyển tiền vào tài khoản này"), secret="guess"
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{svc.base_url}/zalo/webhook", data=body, headers=headers) as resp,
        ):
            assert resp.status == 401
        await svc.settled()
        async with svc.runtime.sessions() as s:
            assert (await s.scalars(select(InboxEvent))).all() == []
        assert svc.oa_texts(BA_SAU) == []


async def test_an_access_token_that_dies_mid_run_is_refreshed_and_the_reply_still_goes(
    database_url: str,
) -> None:
    async with running_service(database_url) as svc:
        await svc.platform.user_send_text(BA_SAU, "vneid là gì")
        await svc.settled()
        assert svc.oa_texts(BA_SAU), "the first answer"
        await svc.settled()
        async with svc.runtime.sessions() as s:
            before = await s.scalar(select(ZaloToken))
        assert before is not None
        svc.platform.expire_access_tokens()
        await svc.platform.user_send_text(BA_SAU, "làm mất thẻ bảo hiểm y tế thì sao")
        await svc.settled()
        assert len(svc.oa_texts(BA_SAU)) == 2, "the second answer"
        await svc.settled()
        assert len(svc.oa_texts(BA_SAU)) == 2
        async with svc.runtime.sessions() as s:
            after = await s.scalar(select(ZaloToken))
        assert after is not None and after.refresh_token != before.refresh_token
        assert not svc.platform.refresh_token_alive(before.refresh_token)
        assert svc.platform.refresh_token_alive(after.refresh_token)


async def test_healthz_reports_the_database_and_zalo(database_url: str) -> None:
    async with running_service(database_url) as svc:
        async with aiohttp.ClientSession() as http, http.get(f"{svc.base_url}/healthz") as resp:
            body = await resp.json()
        assert resp.status == 200
        assert body["status"] == "ok" and body["database"] == "ok" and body["zalo"] == "ok"


async def test_start_up_logs_one_summary_and_no_scheduler_chatter(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running_service(database_url) as svc:
        settings = svc.runtime.settings
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "Adding job tentatively" in m]
    assert not [r for r in caplog.records if r.name.startswith("apscheduler")]
    [summary] = [r for r in caplog.records if r.name == "bot.app" and "started" in r.getMessage()]
    assert summary.levelno == logging.INFO
    text = summary.getMessage()
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"database {kind}" in text
    assert f"listening on 127.0.0.1:{settings.port}" in text and "sandbox on" in text
    for job in ("sweep_inbox every 30s", "resolve_outbox every 1min", "run_tick", "purge_chat"):
        assert job in text
    assert "loa:loa@" not in text  # a PostgreSQL password stays out of the log
