"""Personal data: a forgotten resident leaves nothing readable behind; old chat content is blanked."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.chat.models import Conversation, Handoff
from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import Commune, Hamlet, Resident, Staff
from bot.inbound.events import dedupe_key
from bot.inbound.models import InboxEvent, InboxStatus
from bot.outbound.models import OutboundMessage, OutboxStatus
from broadcasts.models import (
    Acknowledgement,
    Broadcast,
    Campaign,
    Delivery,
    GroupMember,
    Household,
    HouseholdMember,
)
from broadcasts.privacy import forget_resident, purge_chat_content

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
FORGET = "8400111222333"  # the resident who asks to be forgotten
KEEP = "8400999888777"  # a neighbour in the same household
GROUP = "g-tan-hoa"
SECRET = "nhà tôi số 42 hẻm Bí Mật"  # what the forgotten resident wrote
ZALO_IDS = itertools.count(1000)
REPLY_SECRET = "Gửi riêng anh An: hồ sơ vay đã duyệt"  # what the OA wrote to them


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


def body(
    event_name: str, *, sender: str, recipient: str, msg_id: str | None = None, text: str = ""
) -> str:
    payload: dict[str, Any] = {
        "app_id": "1",
        "event_name": event_name,
        "timestamp": "1780300000000",
        "sender": {"id": sender},
        "recipient": {"id": recipient},
    }
    if event_name == "follow":
        payload["follower"] = {"id": sender}
        payload["user_id_by_app"] = "app-" + sender
        del payload["sender"]
    if msg_id:
        payload["message"] = {"msg_id": msg_id, "text": text}
    return json.dumps(payload, ensure_ascii=False)


def inbox(raw: str, status: str = InboxStatus.DONE, at: datetime = NOW) -> InboxEvent:
    return InboxEvent(
        dedupe_key=dedupe_key(json.loads(raw)),
        event_name=json.loads(raw)["event_name"],
        body=raw,
        received_at=at,
        status=status,
        attempts=0,
    )


def outbound(
    key: str,
    recipient: str,
    text: str,
    *,
    channel: str = "cs",
    status: str = OutboxStatus.SENT,
    at: datetime = NOW,
) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        channel=channel,
        recipient_id=recipient,
        purpose="reply",
        text=text,
        message={"text": text},
        priority=True,
        status=status,
        attempts=1,
        next_attempt_at=at,
        zalo_message_id=f"zm-{next(ZALO_IDS)}" if status == OutboxStatus.SENT else None,
        created_at=at,
        sent_at=at if status == OutboxStatus.SENT else None,
    )


async def seed(session: AsyncSession) -> dict[str, int]:
    commune = Commune(slug="tan-loi", name="Xã Tân Lợi", hamlet_word="ấp", created_at=NOW)
    session.add(commune)
    await session.flush()
    hamlet = Hamlet(commune_id=commune.id, name="Ấp Tân Hòa", group_id=GROUP)
    session.add(hamlet)
    await session.flush()
    head = Staff(
        commune_id=commune.id,
        hamlet_id=hamlet.id,
        zalo_user_id="staff-1",
        name="Trưởng ấp",
        role="hamlet_head",
    )
    gone = Resident(
        zalo_user_id=FORGET,
        display_name="Nguyễn Văn An",
        commune_id=commune.id,
        hamlet_id=hamlet.id,
        is_follower=True,
        created_at=NOW,
    )
    kept = Resident(
        zalo_user_id=KEEP,
        display_name="Trần Thị Bình",
        commune_id=commune.id,
        hamlet_id=hamlet.id,
        is_follower=True,
        created_at=NOW,
    )
    session.add_all([head, gone, kept])
    await session.flush()
    household = Household(
        commune_id=commune.id,
        hamlet_id=hamlet.id,
        code="TL-001",
        head_name="Nguyễn Văn An",
        phone="0912345678",
        category="poor",
        updated_at=NOW,
    )
    session.add(household)
    await session.flush()
    session.add_all(
        [
            HouseholdMember(household_id=household.id, resident_id=gone.id),
            HouseholdMember(household_id=household.id, resident_id=kept.id),
        ]
    )
    for resident in (gone, kept):
        session.add(
            Conversation(
                resident_id=resident.id,
                mode="human",
                misses=1,
                pending={"kind": "hamlet", "choices": [1]},
                updated_at=NOW,
            )
        )
        session.add(
            Handoff(resident_id=resident.id, staff_id=head.id, reason="asked", opened_at=NOW)
        )
    session.add_all(
        [
            inbox(body("user_send_text", sender=FORGET, recipient="oa", msg_id="m1", text=SECRET)),
            inbox(body("follow", sender=FORGET, recipient="oa")),
            inbox(
                body("oa_send_text", sender="oa", recipient=FORGET, msg_id="m2", text=REPLY_SECRET)
            ),
            inbox(
                body(
                    "user_send_group_text",
                    sender=FORGET,
                    recipient=GROUP,
                    msg_id="m3",
                    text=SECRET + " (nhóm)",
                )
            ),
            inbox(
                body(
                    "user_send_text", sender=FORGET, recipient="oa", msg_id="m4", text=SECRET + "?"
                ),
                InboxStatus.PENDING,
            ),
            inbox(
                body(
                    "user_send_text",
                    sender=KEEP,
                    recipient="oa",
                    msg_id="m5",
                    text="Cho hỏi vay vốn",
                )
            ),
            inbox(body("follow", sender=KEEP, recipient="oa")),
        ]
    )
    session.add_all(
        [
            GroupMember(group_id=GROUP, zalo_user_id=FORGET, joined_at=NOW),
            GroupMember(group_id=GROUP, zalo_user_id=KEEP, joined_at=NOW),
        ]
    )
    session.add_all(
        [
            outbound("in:1:0", FORGET, REPLY_SECRET),
            outbound("in:5:0", FORGET, REPLY_SECRET + " (chờ gửi)", status=OutboxStatus.PENDING),
            outbound("in:6:0", KEEP, "Dạ, bà con mang CCCD lên xã"),
            outbound("grp:1", GROUP, "Thông báo họp ấp 19h30", channel="group"),
        ]
    )
    campaign = Campaign(
        commune_id=commune.id,
        title="Họp ấp",
        template="hop",
        variables={},
        hamlet_ids=[hamlet.id],
        household_categories=[],
        channels=["resident"],
        author_staff_id=head.id,
        created_at=NOW,
    )
    session.add(campaign)
    await session.flush()
    firing = Broadcast(
        campaign_id=campaign.id, fire_at=NOW, approval_deadline=NOW, code="123456", created_at=NOW
    )
    session.add(firing)
    await session.flush()
    copies = {}
    for user, resident in ((FORGET, gone), (KEEP, kept)):
        message = outbound(
            f"delivery:{firing.id}:{user}", user, "Mời bà con họp ấp, mã xác thực 123456"
        )
        session.add(message)
        await session.flush()
        copies[user] = message.id
        session.add(
            Delivery(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="resident",
                target_id=user,
                resident_id=resident.id,
                outbound_id=message.id,
                link_token=f"t{user[-6:]}",
                created_at=NOW,
            )
        )
    session.add_all(
        [
            Acknowledgement(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="link_open",
                resident_id=gone.id,
                household_id=household.id,
                at=NOW,
            ),
            Acknowledgement(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="group_reply",
                resident_id=gone.id,
                at=NOW,
            ),
            Acknowledgement(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="offline",
                resident_id=gone.id,
                household_id=household.id,
                method="in_person",
                recorded_by=head.id,
                at=NOW,
            ),
            Acknowledgement(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="offline",
                household_id=household.id,
                method="meeting",
                recorded_by=head.id,
                at=NOW,
            ),
            Acknowledgement(
                broadcast_id=firing.id,
                hamlet_id=hamlet.id,
                kind="link_open",
                resident_id=kept.id,
                household_id=household.id,
                at=NOW,
            ),
        ]
    )
    await session.flush()
    return {
        "gone": gone.id,
        "kept": kept.id,
        "household": household.id,
        "delivery_outbound": copies[FORGET],
    }


def cell_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


async def dump(engine: AsyncEngine) -> dict[str, list[dict[str, str]]]:
    """Every row of every table in the database, as text."""
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        found = {}
        for table in tables:
            rows = (await conn.execute(text(f'SELECT * FROM "{table}"'))).mappings().all()
            found[table] = [{k: cell_text(v) for k, v in row.items()} for row in rows]
    return found


def readable(tables: dict[str, list[dict[str, str]]], needle: str) -> list[str]:
    return [
        f"{table}.{column}"
        for table, rows in tables.items()
        for row in rows
        for column, value in row.items()
        if needle.lower() in value.lower()
    ]


def about_keep(
    tables: dict[str, list[dict[str, str]]], kept_id: int
) -> dict[str, list[dict[str, str]]]:
    """The rows that concern the resident who stays."""
    rid = str(kept_id)
    return {
        table: [
            row
            for row in rows
            if row.get("resident_id") == rid or any(KEEP in v for v in row.values())
        ]
        for table, rows in tables.items()
    }


async def test_forget_resident_leaves_nothing_readable_and_spares_the_neighbour(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session, session.begin():
        ids = await seed(session)
    before = await dump(engine)
    assert readable(before, FORGET) and readable(before, SECRET) and readable(before, REPLY_SECRET)

    async with sessions() as session, session.begin():
        assert await forget_resident(session, FORGET, NOW) is True

    after = await dump(engine)
    assert readable(after, FORGET) == []
    assert readable(after, SECRET) == []
    assert readable(after, REPLY_SECRET) == []
    assert readable(after, "app-" + FORGET) == []
    assert readable(after, "Nguyễn Văn An") == [
        "households.head_name"
    ]  # the commune's own list stays
    assert about_keep(after, ids["kept"]) == about_keep(before, ids["kept"])

    async with sessions() as session:
        assert await session.scalar(select(Resident).where(Resident.id == ids["gone"])) is None
        assert [m.resident_id for m in await session.scalars(select(HouseholdMember))] == [
            ids["kept"]
        ]
        assert [c.resident_id for c in await session.scalars(select(Conversation))] == [ids["kept"]]
        assert [h.resident_id for h in await session.scalars(select(Handoff))] == [ids["kept"]]
        assert await session.get(Household, ids["household"]) is not None
        assert [g.zalo_user_id for g in await session.scalars(select(GroupMember))] == [KEEP]
        acks = sorted(
            (a.kind, a.resident_id, a.method or "")
            for a in await session.scalars(select(Acknowledgement))
        )
        assert acks == [
            ("link_open", ids["kept"], ""),
            ("offline", None, "in_person"),
            ("offline", None, "meeting"),
        ]
        # Every inbox and outbound row is still there, for dedupe and delivery statistics.
        events = list(await session.scalars(select(InboxEvent).order_by(InboxEvent.id)))
        assert len(events) == 7
        assert [e.body == "{}" for e in events] == [True, True, True, True, True, False, False]
        assert events[0].dedupe_key == "user_send_text:m1"  # keyed by msg_id: kept as it was
        assert events[1].dedupe_key.startswith("follow:1780300000000:forgotten-")
        assert (
            events[4].status == InboxStatus.PENDING
        )  # inert now: its body holds nothing to answer
        messages = {m.id: m for m in await session.scalars(select(OutboundMessage))}
        assert len(messages) == 6
        blanked = [m for m in messages.values() if m.recipient_id.startswith("forgotten-")]
        assert len(blanked) == 3 and all(m.text == "" and m.message == {} for m in blanked)
        assert len({m.recipient_id for m in blanked}) == 1
        assert sorted((m.status, m.zalo_message_id is not None) for m in blanked) == [
            ("cancelled", False),  # was still waiting: never sent now
            ("sent", True),
            ("sent", True),
        ]
        copy = messages[ids["delivery_outbound"]]
        assert copy.status == OutboxStatus.SENT and copy.zalo_message_id
        delivery = await session.scalar(select(Delivery).where(Delivery.outbound_id == copy.id))
        assert delivery is not None and delivery.resident_id is None
        assert delivery.target_id == copy.recipient_id

    async with sessions() as session, session.begin():
        assert await forget_resident(session, FORGET, NOW) is False
        assert await forget_resident(session, "nobody-at-all", NOW) is False
    assert await dump(engine) == after


async def test_forget_inside_the_session_that_loaded_the_resident(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The bot handles "xoá dữ liệu của tôi" in the session that already loaded the person's rows."""
    async with sessions() as session, session.begin():
        ids = await seed(session)
    async with sessions() as session, session.begin():
        resident = await session.get(Resident, ids["gone"])
        conversation = await session.scalar(
            select(Conversation).where(Conversation.resident_id == ids["gone"])
        )
        event = await session.scalar(
            select(InboxEvent).where(InboxEvent.dedupe_key == "user_send_text:m4")
        )
        assert resident is not None and conversation is not None and event is not None
        assert await forget_resident(session, FORGET, NOW)
        event.status = InboxStatus.DONE  # what the processor does after the handler
    async with sessions() as session:
        assert await session.get(Resident, ids["gone"]) is None
        stored = await session.scalar(
            select(InboxEvent).where(InboxEvent.dedupe_key == "user_send_text:m4")
        )
        assert stored is not None and stored.body == "{}" and stored.status == InboxStatus.DONE


async def test_purge_blanks_old_content_and_keeps_recent_and_pending_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old = NOW - timedelta(days=100)
    recent = NOW - timedelta(days=10)
    user = "8400555"
    async with sessions() as session, session.begin():
        session.add_all(
            [
                inbox(
                    body(
                        "user_send_text",
                        sender=user,
                        recipient="oa",
                        msg_id="o1",
                        text="cũ, đã xử lý",
                    ),
                    at=old,
                ),
                inbox(
                    body(
                        "user_send_text", sender=user, recipient="oa", msg_id="o2", text="cũ, lỗi"
                    ),
                    InboxStatus.FAILED,
                    at=old,
                ),
                inbox(
                    body(
                        "user_send_text",
                        sender=user,
                        recipient="oa",
                        msg_id="o3",
                        text="cũ, chưa xử lý",
                    ),
                    InboxStatus.PENDING,
                    at=old,
                ),
                inbox(
                    body("user_send_text", sender=user, recipient="oa", msg_id="r1", text="mới"),
                    at=recent,
                ),
                outbound("old-sent", user, "cũ đã gửi", at=old),
                outbound("old-failed", user, "cũ gửi lỗi", status=OutboxStatus.FAILED, at=old),
                outbound("old-pending", user, "cũ chờ gửi", status=OutboxStatus.PENDING, at=old),
                outbound("old-sending", user, "cũ đang gửi", status=OutboxStatus.SENDING, at=old),
                outbound("old-group", GROUP, "thông báo nhóm cũ", channel="group", at=old),
                outbound("recent-sent", user, "mới đã gửi", at=recent),
            ]
        )

    async with sessions() as session, session.begin():
        assert await purge_chat_content(session, timedelta(days=90), NOW) == (2, 2)
    async with sessions() as session:
        bodies = {e.dedupe_key: e.body for e in await session.scalars(select(InboxEvent))}
        assert bodies["user_send_text:o1"] == bodies["user_send_text:o2"] == "{}"
        assert "cũ, chưa xử lý" in bodies["user_send_text:o3"]
        assert "mới" in bodies["user_send_text:r1"]
        texts = {
            m.key: (m.text, m.message, m.status)
            for m in await session.scalars(select(OutboundMessage))
        }
        assert texts == {
            "old-sent": ("", {}, "sent"),
            "old-failed": ("", {}, "failed"),
            "old-pending": ("cũ chờ gửi", {"text": "cũ chờ gửi"}, "pending"),
            "old-sending": ("cũ đang gửi", {"text": "cũ đang gửi"}, "sending"),
            "old-group": ("thông báo nhóm cũ", {"text": "thông báo nhóm cũ"}, "sent"),
            "recent-sent": ("mới đã gửi", {"text": "mới đã gửi"}, "sent"),
        }
    async with sessions() as session, session.begin():
        assert await purge_chat_content(session, timedelta(days=90), NOW) == (0, 0)
        assert await purge_chat_content(session, timedelta(days=5), NOW) == (1, 1)
