"""A resident asks in chat to have their data deleted."""

from __future__ import annotations

from sqlalchemy import select

from bot.directory.models import Resident
from bot.inbound.models import InboxEvent
from tests.service import running_service

UT = "4000000000000000006"


async def test_a_resident_deletes_their_data_after_confirming(database_url: str) -> None:
    async with running_service(database_url) as svc:
        await svc.platform.user_send_text(UT, "vay vốn hộ nghèo lãi bao nhiêu")
        await svc.settled()
        assert svc.oa_texts(UT), "an answer"
        await svc.platform.user_send_text(UT, "xoá dữ liệu của tôi")
        await svc.settled()
        assert "Gõ 1 để đồng ý xoá" in svc.oa_texts(UT)[-1], "the confirmation question"
        await svc.platform.user_send_text(UT, "2")
        await svc.settled()
        assert "giữ nguyên" in svc.oa_texts(UT)[-1], "kept"
        async with svc.runtime.sessions() as s:
            assert await s.scalar(select(Resident).where(Resident.zalo_user_id == UT)) is not None

        await svc.platform.user_send_text(UT, "xoa du lieu")
        await svc.settled()
        assert "Gõ 1 để đồng ý xoá" in svc.oa_texts(UT)[-1], "asked again"
        confirm = await svc.platform.user_send_text(UT, "1")
        await svc.settled()
        assert "đã xoá thông tin" in svc.oa_texts(UT)[-1], "deleted"
        await svc.settled()
        async with svc.runtime.sessions() as s:
            assert await s.scalar(select(Resident).where(Resident.zalo_user_id == UT)) is None
            last = await s.scalar(
                select(InboxEvent.id).where(
                    InboxEvent.dedupe_key == f"user_send_text:{confirm.event['message']['msg_id']}"
                )
            )
            # Everything stored up to the request is gone; only the receipts of the goodbye come after it.
            bodies = (await s.scalars(select(InboxEvent.body).where(InboxEvent.id <= last))).all()
        assert bodies and not any("vay vốn" in b or UT in b for b in bodies)
