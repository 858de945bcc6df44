"""Personal data: forgetting a resident on request, and blanking chat content after its retention period.

Vietnam's personal-data rules (Decree 13/2023/NĐ-CP, then the 2025 Law on Personal Data Protection) let a
person have their data deleted, and chat content is kept no longer than it is needed. What stays after
either is what the commune needs for its statistics and for households told off Zalo: row ids, statuses,
times, counts, and offline acknowledgements recorded by hamlet heads.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.models import Conversation, Handoff
from bot.chat.unanswered import forget_older_than
from bot.directory.models import Resident
from bot.inbound.models import InboxEvent, InboxStatus
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage, OutboxStatus
from broadcasts.models import Acknowledgement, Delivery, GroupMember, HouseholdMember

EMPTY_BODY = "{}"
OFFLINE = "offline"  # Acknowledgement.kind of a head's record that a household was told off Zalo
FORGOTTEN_REASON = "Người nhận đã yêu cầu xoá dữ liệu cá nhân"
# Outbound rows still on their way: a purge leaves them alone (they are sent, then purged later).
IN_FLIGHT = (OutboxStatus.PENDING, OutboxStatus.SENDING)
_PEOPLE_PATHS = (("sender", "id"), ("follower", "id"), ("recipient", "id"))


def pseudonym() -> str:
    """A random stand-in for a forgotten Zalo user id: unique, and not derivable from the id."""
    return f"forgotten-{secrets.token_hex(8)}"


def _id_at(payload: Any, path: tuple[str, ...]) -> str | None:
    for key in path:
        if not isinstance(payload, dict):
            return None
        payload = payload.get(key)
    if isinstance(payload, int) and not isinstance(payload, bool):
        return str(payload)
    return payload if isinstance(payload, str) else None


def concerns(body: str, zalo_user_id: str) -> bool:
    """Whether a stored webhook body is from or to this user (sender, follower or recipient id)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return zalo_user_id in body  # unreadable: blank it if the id appears at all
    return any(_id_at(payload, path) == zalo_user_id for path in _PEOPLE_PATHS)


async def forget_resident(session: AsyncSession, zalo_user_id: str, now: datetime) -> bool:
    """Delete a resident's data and group memberships, blank their chat content; False if none is stored."""
    # Queue any confirmation to the person after this call: messages still waiting to them are cancelled.
    found = False
    stand_in = pseudonym()
    resident = await session.scalar(select(Resident).where(Resident.zalo_user_id == zalo_user_id))
    if resident is not None:
        found = True
        rid = resident.id
        await session.execute(delete(HouseholdMember).where(HouseholdMember.resident_id == rid))
        await session.execute(delete(Conversation).where(Conversation.resident_id == rid))
        await session.execute(delete(Handoff).where(Handoff.resident_id == rid))
        # Group replies and opened links were the person's own acts; a head's offline record is the
        # household's and stays, without the person.
        await session.execute(
            delete(Acknowledgement).where(
                Acknowledgement.resident_id == rid, Acknowledgement.kind != OFFLINE
            )
        )
        await session.execute(
            update(Acknowledgement)
            .where(Acknowledgement.resident_id == rid)
            .values(resident_id=None)
        )
        await session.execute(
            update(Delivery).where(Delivery.resident_id == rid).values(resident_id=None)
        )
        await session.delete(resident)
        await session.flush()

    groups = await session.execute(
        delete(GroupMember).where(GroupMember.zalo_user_id == zalo_user_id)
    )
    found = found or bool(groups.rowcount)  # type: ignore[attr-defined]

    # Deliveries keep counting toward a firing's statistics, under a stand-in for the Zalo id.
    deliveries = await session.execute(
        update(Delivery)
        .where(Delivery.target_id == zalo_user_id)
        .values(target_id=stand_in, resident_id=None)
        .execution_options(synchronize_session="fetch")
    )
    found = found or bool(deliveries.rowcount)  # type: ignore[attr-defined]

    outbound = await session.scalars(
        select(OutboundMessage).where(
            or_(
                OutboundMessage.recipient_id == zalo_user_id,
                OutboundMessage.key.contains(zalo_user_id, autoescape=True),
            )
        )
    )
    for message in outbound:
        found = True
        if message.recipient_id == zalo_user_id:
            message.text = ""
            message.message = {}
            message.recipient_id = stand_in
            # Never send to someone who asked to be forgotten, not even a copy a person may resend.
            if message.status in (OutboxStatus.PENDING, OutboxStatus.UNCERTAIN):
                message.status = OutboxStatus.CANCELLED
                message.error_reason = FORGOTTEN_REASON
        message.key = message.key.replace(zalo_user_id, stand_in)[:255]

    # Events keyed by msg_id keep their key; keys made of the sender's id get the stand-in instead.
    events = await session.scalars(
        select(InboxEvent).where(
            or_(
                InboxEvent.body.contains(zalo_user_id, autoescape=True),
                InboxEvent.dedupe_key.contains(zalo_user_id, autoescape=True),
            )
        )
    )
    for event in events:
        if concerns(event.body, zalo_user_id):
            event.body = EMPTY_BODY  # a pending event becomes inert: it parses to nothing to answer
            found = True
        if zalo_user_id in event.dedupe_key:
            event.dedupe_key = event.dedupe_key.replace(zalo_user_id, stand_in)[:255]
            found = True
    await session.flush()
    return found


async def purge_chat_content(
    session: AsyncSession, older_than: timedelta, now: datetime
) -> tuple[int, int]:
    """Blank inbox bodies and 1:1 outbound texts older than the retention period; (inbox, outbound) counts.

    Unanswered questions kept for the FAQ (folded, without sender) go at the same age."""
    cutoff = now - older_than
    await forget_older_than(session, cutoff)
    inbox = await session.execute(
        update(InboxEvent)
        .where(
            InboxEvent.received_at < cutoff,
            InboxEvent.status != InboxStatus.PENDING,
            InboxEvent.body != EMPTY_BODY,
        )
        .values(body=EMPTY_BODY)
        .execution_options(synchronize_session="fetch")
    )
    outbound = await session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.channel == Channel.CS,
            OutboundMessage.created_at < cutoff,
            OutboundMessage.status.not_in(IN_FLIGHT),
            or_(OutboundMessage.text != "", cast(OutboundMessage.message, Text) != EMPTY_BODY),
        )
        .values(text="", message={})
        .execution_options(synchronize_session="fetch")
    )
    return inbox.rowcount, outbound.rowcount  # type: ignore[attr-defined]
