"""Members answering an announcement in the hamlet group: counted as read for their household."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.directory.people import resident_for
from bot.inbound.context import Context
from bot.inbound.events import GroupText
from bot.outbound.models import OutboundMessage
from bot.text import fold
from broadcasts.models import (
    Acknowledgement,
    Delivery,
)

ACK_WINDOW = timedelta(hours=72)


ACK_WORDS = {
    "1",
    "ok",
    "oke",
    "okie",
    "da doc",
    "da xem",
    "da nhan",
    "doc roi",
    "da biet",
    "nhan duoc",
    "ro",
    "da ro",
}


def is_acknowledgement(text: str) -> bool:
    """'1', 'ok', 'đã đọc' and the like, with or without diacritics."""
    return fold(text) in ACK_WORDS


async def on_group_reply(ctx: Context, event: GroupText) -> bool:
    """A member answers an announcement in the hamlet group: it counts as read for their household."""
    delivery: Delivery | None = None
    if event.quote_msg_id:
        delivery = await ctx.session.scalar(
            select(Delivery)
            .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
            .where(OutboundMessage.zalo_message_id == event.quote_msg_id, Delivery.kind == "group")
        )
    if delivery is None:
        if not is_acknowledgement(event.text):
            return False
        delivery = await ctx.session.scalar(
            select(Delivery)
            .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
            .where(
                Delivery.kind == "group",
                Delivery.target_id == event.group_id,
                OutboundMessage.sent_at >= ctx.now - ACK_WINDOW,
            )
            .order_by(OutboundMessage.sent_at.desc())
            .limit(1)
        )
    elif not (is_acknowledgement(event.text) or event.quote_msg_id):
        return False
    if delivery is None:
        return False
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    ctx.session.add(
        Acknowledgement(
            broadcast_id=delivery.broadcast_id,
            hamlet_id=delivery.hamlet_id,
            kind="group_reply",
            resident_id=resident.id,
            at=ctx.now,
        )
    )
    return True
