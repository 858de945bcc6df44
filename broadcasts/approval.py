"""Hamlet heads approve or reject their hamlet's announcement by replying in Zalo."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet, Staff
from bot.outbound.channels import Channel
from bot.outbound.notices import notify_staff
from bot.outbound.work import Work
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status
from broadcasts.workflow import move


async def pending_for(session: AsyncSession, staff: Staff) -> HamletApproval | None:
    """The oldest approval waiting on this person."""
    return await session.scalar(
        select(HamletApproval)
        .join(Broadcast, Broadcast.id == HamletApproval.broadcast_id)
        .where(
            HamletApproval.approver_staff_id == staff.id,
            HamletApproval.status == Status.AWAITING,
            # Sending: a post sent "now" that other hamlets already have.
            Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED, Status.SENDING]),
        )
        .order_by(HamletApproval.id)
        .limit(1)
    )


async def approval_names(session: AsyncSession, approval: HamletApproval) -> dict[str, str]:
    broadcast = await session.get(Broadcast, approval.broadcast_id)
    assert broadcast is not None
    campaign = await session.get(Campaign, broadcast.campaign_id)
    hamlet = await session.get(Hamlet, approval.hamlet_id)
    assert campaign is not None and hamlet is not None
    return {"title": campaign.title, "hamlet": hamlet.name}


async def decide(
    work: Work,
    approval: HamletApproval,
    staff: Staff,
    kind: str,
    reason: str,
    *,
    reply_to: tuple[str, str] | None,
) -> None:
    """Record an approval or rejection, confirm it, tell the author of a rejection, settle the firing."""
    now = work.now
    to = Status.APPROVED if kind == "approve" else Status.REJECTED
    move(work.session, approval, to, now, actor=staff.id, note=reason or None)
    approval.decided_by, approval.decided_at, approval.reason = staff.id, now, reason or None
    names = await approval_names(work.session, approval)
    decision = "DUYỆT" if kind == "approve" else "TỪ CHỐI"
    confirm = work.replies.render("approval_done", decision=decision, reason=reason, **names)
    if reply_to is not None and reply_to[0] == Channel.CS:
        work.send_user(reply_to[1], confirm, purpose="approval")
    elif reply_to is not None:
        work.send_group(reply_to[1], confirm, purpose="approval")
    broadcast = await work.session.get(Broadcast, approval.broadcast_id)
    assert broadcast is not None
    campaign = await work.session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    if kind == "reject":
        author = await work.session.get(Staff, campaign.author_staff_id)
        if author is not None:
            notice = work.replies.render(
                "approval_rejected_notice", approver=staff.name, reason=reason, **names
            )
            await notify_staff(work.session, now, author, notice, key=work.next_key())
    await settle_approvals(work.session, broadcast, campaign, now)


async def settle_approvals(
    session: AsyncSession, broadcast: Broadcast, campaign: Campaign, now: datetime
) -> None:
    """Once every hamlet has answered: scheduled if any approved, cancelled if all rejected."""
    statuses = [
        Status(s)
        for s in (
            await session.scalars(
                select(HamletApproval.status).where(HamletApproval.broadcast_id == broadcast.id)
            )
        ).all()
    ]
    if Status.AWAITING in statuses or broadcast.status != Status.AWAITING:
        return
    if Status.APPROVED in statuses:
        move(session, broadcast, Status.SCHEDULED, now, note="mọi ấp đã trả lời")
        move(session, campaign, Status.SCHEDULED, now)
    else:
        move(session, broadcast, Status.CANCELLED, now, note="mọi ấp đều từ chối")
