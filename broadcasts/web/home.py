"""The desk's first page: what waits on me, what goes out next, what failed, who waits for a person."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.models import Handoff
from bot.directory.models import Resident, Staff
from bot.directory.roles import Action, can, territory
from bot.keys import RUNTIME
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.outbox import failure_reason
from bot.web.auth import desk_of, desk_page
from bot.web.desk import render_desk
from broadcasts.campaigns import deps_for
from broadcasts.models import Broadcast, Campaign, Delivery, HamletApproval, Status
from broadcasts.timing import format_local
from broadcasts.tracking import recent_reach
from broadcasts.web.approvals import pending_for_staff
from broadcasts.workflow import label

RECENT = timedelta(days=30)  # failed sends counted over this window
NEXT_SHOWN = 5


async def next_firings(session: AsyncSession, staff: Staff) -> list[dict[str, object]]:
    """The next firings still to go out, with how many hamlets have approved (own hamlet's only)."""
    query = (
        select(Broadcast, Campaign)
        .join(Campaign, Campaign.id == Broadcast.campaign_id)
        .where(
            Campaign.commune_id == staff.commune_id,
            Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED]),
            Broadcast.test_only.is_(False),
        )
        .order_by(Broadcast.fire_at)
    )
    own = territory(staff)
    shown: list[dict[str, object]] = []
    for broadcast, campaign in (await session.execute(query)).all():
        if own is not None and own not in campaign.hamlet_ids:
            continue
        answers = select(HamletApproval.status).where(HamletApproval.broadcast_id == broadcast.id)
        if own is not None:  # a head sees their own hamlet's answer, not the others'
            answers = answers.where(HamletApproval.hamlet_id == own)
        statuses = (await session.scalars(answers)).all()
        shown.append(
            {
                "title": campaign.title,
                "fire_at": format_local(broadcast.fire_at),
                "status": label(broadcast.status),
                "approved": sum(s == Status.APPROVED for s in statuses),
                "hamlets": len(statuses),
            }
        )
        if len(shown) == NEXT_SHOWN:
            break
    return shown


async def failures(session: AsyncSession, staff: Staff, since: datetime) -> list[tuple[str, int]]:
    """Announcement copies Zalo refused since `since`, counted by reason (own hamlet's only)."""
    query = (
        select(OutboundMessage.error_code, func.count())
        .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
        .join(Broadcast, Broadcast.id == Delivery.broadcast_id)
        .join(Campaign, Campaign.id == Broadcast.campaign_id)
        .where(
            Campaign.commune_id == staff.commune_id,
            OutboundMessage.status == OutboxStatus.FAILED,
            Delivery.created_at >= since,
        )
        .group_by(OutboundMessage.error_code)
    )
    own = territory(staff)
    if own is not None:
        query = query.where(Delivery.hamlet_id == own)
    counts: Counter[str] = Counter()
    for code, n in (await session.execute(query)).all():
        counts[failure_reason(code, "") if code is not None else "không rõ lý do"] += int(n)
    return counts.most_common()


async def waiting_residents(session: AsyncSession, staff: Staff) -> int:
    """Residents handed to a person and not yet answered (own hamlet's only)."""
    query = (
        select(func.count())
        .select_from(Handoff)
        .join(Resident, Resident.id == Handoff.resident_id)
        .where(Handoff.closed_at.is_(None), Resident.commune_id == staff.commune_id)
    )
    own = territory(staff)
    if own is not None:
        query = query.where(Resident.hamlet_id == own)
    return int(await session.scalar(query) or 0)


@desk_page
async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /admin/: the dashboard for the signed-in person's role and territory."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    now = rt.clock.now()
    async with rt.sessions() as session:
        mine = await pending_for_staff(session, staff) if can(staff, Action.APPROVE) else []
        upcoming = await next_firings(session, staff)
        failed = await failures(session, staff, now - RECENT)
        waiting = await waiting_residents(session, staff)
        cache = (deps_for(rt).reach_cache, now)
        chart = await recent_reach(session, staff.commune_id, territory(staff), cache=cache)
    return render_desk(
        request,
        "home.html",
        {
            "title": "Tổng quan",
            "mine": mine,
            "upcoming": upcoming,
            "failed": failed,
            "waiting": waiting,
            "chart": chart,
            "may_approve": can(staff, Action.APPROVE),
        },
    )
