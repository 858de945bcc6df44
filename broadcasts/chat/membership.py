"""Zalo tells us who joined or left a group: keep the members, link a joining resident to the hamlet."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from bot.clock import from_epoch_ms
from bot.directory.models import Hamlet
from bot.directory.people import resident_for
from bot.inbound.context import Context
from bot.inbound.events import GroupMembership
from broadcasts.groups import record_membership

log = logging.getLogger(__name__)


async def on_membership(ctx: Context, event: GroupMembership) -> None:
    """Keep GroupMember rows; a resident who joins a hamlet's group gets that hamlet if they had none."""
    at = _event_time(event, ctx.now)
    hamlet = await ctx.session.scalar(select(Hamlet).where(Hamlet.group_id == event.group_id))
    for user_id in event.user_ids:
        if user_id == ctx.settings.zalo_oa_id:
            continue  # the OA itself
        await record_membership(ctx.session, event.group_id, user_id, joined=event.joined, at=at)
        if event.joined and hamlet is not None:
            resident = await resident_for(ctx.session, user_id, ctx.now)
            if resident.hamlet_id is None:  # never overwrite a hamlet the resident chose
                resident.hamlet_id = hamlet.id
                resident.commune_id = hamlet.commune_id  # without a hamlet, the commune was a guess
                log.info(
                    "resident %d linked to hamlet %d by joining its group", resident.id, hamlet.id
                )
    log.info(
        "group %s: %d user(s) %s (%s)",
        event.group_id,
        len(event.user_ids),
        "joined" if event.joined else "left",
        event.event_name,
    )


def _event_time(event: GroupMembership, fallback: datetime) -> datetime:
    try:
        return from_epoch_ms(event.timestamp) if event.timestamp else fallback
    except (TypeError, ValueError, OverflowError):
        return fallback
