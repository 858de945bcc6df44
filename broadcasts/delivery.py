"""Fan-out: a firing becomes outbox rows, one per hamlet group and per reachable resident, before any send."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Commune, Hamlet, OutboundMessage, OutboxStatus, Resident, Staff, StaffRole
from bot.outbox import queue_message
from bot.people import within_window
from broadcasts.approval import tell_staff
from broadcasts.campaigns import Deps, render_for
from broadcasts.models import (
    Broadcast,
    Campaign,
    Delivery,
    HamletApproval,
    Household,
    HouseholdMember,
    Status,
)
from broadcasts.workflow import move

LINK_PATH = "/l/"


def new_link_token() -> str:
    """A short unguessable token for a tracked link."""
    return secrets.token_urlsafe(8)[:11]


async def fan_out(session: AsyncSession, broadcast: Broadcast, deps: Deps, now: datetime) -> int:
    """Write every delivery of an approved firing (unique per target); returns how many were written."""
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    commune = await session.get(Commune, campaign.commune_id)
    assert commune is not None
    approvals = (
        await session.scalars(select(HamletApproval).where(HamletApproval.broadcast_id == broadcast.id))
    ).all()
    written = 0
    for approval in approvals:
        if approval.status == Status.AWAITING:
            move(session, approval, Status.MISSED, now, note="chưa được duyệt đến giờ gửi")
            continue
        if approval.status != Status.APPROVED:
            continue
        hamlet = await session.get(Hamlet, approval.hamlet_id)
        assert hamlet is not None
        if "group" in campaign.channels and not campaign.household_categories and hamlet.group_id:
            written += _add(
                session, deps, campaign, broadcast, hamlet, commune, "group", hamlet.group_id, None, now
            )
        if "resident" in campaign.channels:
            for resident in await _recipients(session, campaign, hamlet, now):
                written += _add(
                    session,
                    deps,
                    campaign,
                    broadcast,
                    hamlet,
                    commune,
                    "resident",
                    resident.zalo_user_id,
                    resident.id,
                    now,
                )
            if campaign.household_categories:
                await _offline_list(session, deps, campaign, broadcast, hamlet, now)
    return written


def _add(
    session: AsyncSession,
    deps: Deps,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    commune: Commune,
    kind: str,
    target: str,
    resident_id: int | None,
    now: datetime,
) -> int:
    token = new_link_token()
    text = render_for(deps, campaign, broadcast, hamlet, commune, link=deps.base_url + LINK_PATH + token)
    row = queue_message(
        session,
        key=f"bc:{broadcast.id}:{kind}:{target}",
        channel="group" if kind == "group" else "cs",
        recipient_id=target,
        text=text,
        purpose="broadcast",
        now=now,
        priority=False,
    )
    session.add(
        Delivery(
            broadcast_id=broadcast.id,
            hamlet_id=hamlet.id,
            kind=kind,
            target_id=target,
            resident_id=resident_id,
            outbound=row,
            link_token=token,
            created_at=now,
        )
    )
    return 1


async def _recipients(
    session: AsyncSession, campaign: Campaign, hamlet: Hamlet, now: datetime
) -> list[Resident]:
    """The hamlet's followers Zalo lets us reach 1:1, not opted out, in the targeted household groups."""
    query = select(Resident).where(
        Resident.hamlet_id == hamlet.id, Resident.is_follower.is_(True), Resident.opted_out.is_(False)
    )
    if campaign.household_categories:
        query = (
            query.join(HouseholdMember, HouseholdMember.resident_id == Resident.id)
            .join(Household, Household.id == HouseholdMember.household_id)
            .where(Household.category.in_(campaign.household_categories))
        )
    return [r for r in (await session.scalars(query.order_by(Resident.id))).all() if within_window(r, now)]


async def _offline_list(
    session: AsyncSession, deps: Deps, campaign: Campaign, broadcast: Broadcast, hamlet: Hamlet, now: datetime
) -> None:
    """Tell the head which targeted households Zalo cannot reach, to be told in person."""
    reached = select(HouseholdMember.household_id).join(
        Delivery, Delivery.resident_id == HouseholdMember.resident_id
    )
    reached = reached.where(Delivery.broadcast_id == broadcast.id)
    households = (
        await session.scalars(
            select(Household)
            .where(Household.hamlet_id == hamlet.id, Household.category.in_(campaign.household_categories))
            .where(Household.id.not_in(reached))
            .order_by(Household.code)
        )
    ).all()
    await session.flush()
    head = await session.scalar(
        select(Staff).where(
            Staff.hamlet_id == hamlet.id, Staff.role == StaffRole.HAMLET_HEAD, Staff.active.is_(True)
        )
    )
    if not households or head is None:
        return
    lines = [f"{h.head_name} ({h.code}){', ' + h.address if h.address else ''}" for h in households][:60]
    text = deps.replies.render(
        "offline_list", title=campaign.title, code=broadcast.code, hamlet=hamlet.name, households=lines
    )
    await tell_staff(session, now, head, text, key=f"bc:{broadcast.id}:offline:{hamlet.id}")


async def finished(session: AsyncSession, broadcast: Broadcast) -> tuple[int, int, int] | None:
    """(sent, failed, total) once no delivery of the firing is still on its way; None before that."""
    rows = (
        await session.execute(
            select(OutboundMessage.status, func.count())
            .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(OutboundMessage.status)
        )
    ).all()
    counts = {status: n for status, n in rows}
    if counts.get(OutboxStatus.PENDING) or counts.get(OutboxStatus.SENDING):
        return None
    total = sum(counts.values())
    return counts.get(OutboxStatus.SENT, 0), total - counts.get(OutboxStatus.SENT, 0), total


async def commune_of(session: AsyncSession, broadcast: Broadcast) -> Commune:
    """The commune a firing belongs to."""
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    commune = await session.get(Commune, campaign.commune_id)
    assert commune is not None
    return commune
