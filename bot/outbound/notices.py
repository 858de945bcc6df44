"""Reaching a staff member: the one rule for every notice, request and hand-over sent to staff."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Commune, Resident, Staff
from bot.directory.people import within_window
from bot.outbound.channels import Channel
from bot.outbound.outbox import queue_message
from bot.zalo.mentions import escape_mentions, mention

log = logging.getLogger(__name__)


async def notify_staff(
    session: AsyncSession,
    now: datetime,
    staff: Staff,
    text: str,
    *,
    key: str,
    purpose: str = "notice",
    in_group: Callable[[str], str] | None = None,
) -> Channel | None:
    """Queue `text` to a staff member: 1:1 when Zalo allows it, else in the commune group.

    Zalo lets the OA write 1:1 only to people who interacted in the last 7 days; outside that
    window the message goes to the commune group with an @mention. `in_group(tag)` words the group
    message around the mention; by default it is the mention, then the text.
    """
    if not staff.zalo_user_id:
        # Not on Zalo (yet): nothing can reach them there; the desk shows what waits on them.
        log.warning("staff %d has no Zalo id: notice %s not sent", staff.id, key)
        return None
    user = await session.scalar(select(Resident).where(Resident.zalo_user_id == staff.zalo_user_id))
    commune = await session.get(Commune, staff.commune_id)
    if within_window(user, now) or commune is None or not commune.group_id:
        channel, recipient = Channel.CS, staff.zalo_user_id
    else:
        tag = f"{mention(staff.zalo_user_id)} {staff.name}"
        channel, recipient = Channel.GROUP, commune.group_id
        text = in_group(tag) if in_group else f"{tag}: {escape_mentions(text)}"
    queue_message(
        session,
        key=key,
        channel=channel,
        recipient_id=recipient,
        text=text,
        purpose=purpose,
        now=now,
    )
    return channel
