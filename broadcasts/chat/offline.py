"""A head writes "danh sách" to the OA: the households of their hamlet still to be told in person."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.directory.models import Hamlet, Staff, StaffRole
from bot.inbound.context import Context
from bot.inbound.events import UserText
from bot.text import fold
from broadcasts.delivery import offline_households, offline_text
from broadcasts.models import (
    Broadcast,
    Campaign,
)

LIST_WORDS = {"danh sach", "danh sach ho", "danh sach bao truc tiep", "ds ho"}


async def on_list_request(ctx: Context, event: UserText) -> bool:
    """A head writes "danh sách": the households of their hamlet still to be told in person, 1:1."""
    if fold(event.text) not in LIST_WORDS:
        return False
    head = await ctx.session.scalar(
        select(Staff).where(
            Staff.zalo_user_id == event.user_id, Staff.role == StaffRole.HAMLET_HEAD
        )
    )
    if head is None or head.hamlet_id is None:
        return False
    hamlet = await ctx.session.get(Hamlet, head.hamlet_id)
    assert hamlet is not None
    recent = (
        await ctx.session.execute(
            select(Broadcast, Campaign)
            .join(Campaign, Campaign.id == Broadcast.campaign_id)
            .where(
                Broadcast.started_at.is_not(None),
                Broadcast.started_at >= ctx.now - timedelta(days=30),
            )
            .order_by(Broadcast.started_at.desc())
        )
    ).all()
    texts = []
    for broadcast, campaign in recent:
        if campaign.household_categories and hamlet.id in campaign.hamlet_ids:
            households = await offline_households(ctx.session, broadcast, campaign, hamlet)
            if households:
                texts.append(offline_text(ctx.replies, campaign, broadcast, hamlet, households))
    ctx.send_user(
        event.user_id,
        "\n\n".join(texts[:3]) or "Hiện không có hộ nào cần báo trực tiếp.",
        purpose="notice",
    )
    return True
