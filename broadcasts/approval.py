"""Hamlet heads approve or reject their hamlet's announcement by replying in Zalo."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.conversation import conversation_for
from bot.directory.models import Commune, Hamlet, Staff
from bot.directory.people import resident_for, staff_for
from bot.inbound.context import Context
from bot.inbound.events import GroupText, UserText
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage
from bot.outbound.notices import notify_staff
from bot.outbound.work import Work
from bot.text import fold
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status
from broadcasts.workflow import move

YES = {
    "1",
    "duyet",
    "dong y",
    "ok",
    "oke",
    "yes",
    "co",
    "duoc",
    "chap nhan",
    "dong y duyet",
    "da duyet",
}
NO_PREFIXES = ("2", "tu choi", "khong duyet", "ko duyet", "k duyet", "khong dong y", "huy", "no")
_LEADING = re.compile(
    r"^\s*(?:2\b[.):,-]?|từ chối|tu choi|không duyệt|khong duyet|ko duyệt|ko duyet)\s*[:,.-]?\s*",
    re.IGNORECASE,
)


def read_decision(text: str) -> tuple[str, str] | None:
    """('approve', '') or ('reject', reason) for a reply; None when it is neither."""
    folded = fold(text)
    if folded in YES or folded.startswith("1 "):
        return "approve", ""
    for prefix in NO_PREFIXES:
        if folded == prefix or folded.startswith(prefix + " "):
            return "reject", _LEADING.sub("", text, count=1).strip()
    return None


async def pending_for(session: AsyncSession, staff: Staff) -> HamletApproval | None:
    """The oldest approval waiting on this person."""
    return await session.scalar(
        select(HamletApproval)
        .join(Broadcast, Broadcast.id == HamletApproval.broadcast_id)
        .where(
            HamletApproval.approver_staff_id == staff.id,
            HamletApproval.status == Status.AWAITING,
            Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED]),
        )
        .order_by(HamletApproval.id)
        .limit(1)
    )


async def on_staff_text(ctx: Context, event: UserText) -> bool:
    """A head's 1:1 reply answers their pending approval first (before any menu); False if none."""
    staff = await staff_for(ctx.session, event.user_id)
    if staff is None:
        return False
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    conv = await conversation_for(ctx.session, resident, ctx.now)
    resident.last_interaction_at = ctx.now
    pending = conv.pending or {}
    if pending.get("kind") == "reject_reason":
        approval = await ctx.session.get(HamletApproval, pending.get("approval_id"))
        conv.pending = None
        if approval is not None and approval.status == Status.AWAITING:
            await decide(
                ctx,
                approval,
                staff,
                "reject",
                event.text.strip(),
                reply_to=(Channel.CS, staff.zalo_user_id),
            )
            return True
    approval = await pending_for(ctx.session, staff)
    if approval is None:
        return False
    decision = read_decision(event.text)
    names = await _names(ctx.session, approval)
    if decision is None:
        ctx.send_user(
            staff.zalo_user_id, ctx.replies.render("approval_unclear", **names), purpose="approval"
        )
        return True
    kind, reason = decision
    if kind == "reject" and not reason:
        conv.pending = {"kind": "reject_reason", "approval_id": approval.id}
        ctx.send_user(
            staff.zalo_user_id,
            ctx.replies.render("approval_ask_reason", **names),
            purpose="approval",
        )
        return True
    await decide(ctx, approval, staff, kind, reason, reply_to=(Channel.CS, staff.zalo_user_id))
    return True


async def on_group_text(ctx: Context, event: GroupText) -> bool:
    """A reply in the commune group to an approval request: only its approver may decide."""
    commune = await ctx.session.scalar(select(Commune).where(Commune.group_id == event.group_id))
    if commune is None:
        return False
    approval: HamletApproval | None = None
    if event.quote_msg_id:
        request = await ctx.session.scalar(
            select(OutboundMessage).where(OutboundMessage.zalo_message_id == event.quote_msg_id)
        )
        if request is not None and request.key.startswith("appr:"):
            approval = await ctx.session.get(HamletApproval, int(request.key.split(":")[1]))
    staff = await staff_for(ctx.session, event.user_id)
    if approval is None and staff is not None:
        approval = await pending_for(ctx.session, staff)
    if approval is None or approval.status != Status.AWAITING:
        return False
    decision = read_decision(event.text)
    if decision is None:
        return False
    names = await _names(ctx.session, approval)
    if staff is None or staff.id != approval.approver_staff_id:
        approver = (
            await ctx.session.get(Staff, approval.approver_staff_id)
            if approval.approver_staff_id
            else None
        )
        who = approver.name if approver else "quản trị xã"
        ctx.send_group(
            event.group_id,
            ctx.replies.render("approval_wrong_person", approver=who, **names),
            purpose="approval",
        )
        return True
    kind, reason = decision
    await decide(ctx, approval, staff, kind, reason, reply_to=("group", event.group_id))
    return True


async def _names(session: AsyncSession, approval: HamletApproval) -> dict[str, str]:
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
    reply_to: tuple[str, str],
) -> None:
    """Record an approval or rejection, confirm it, tell the author of a rejection, settle the firing."""
    now = work.now
    to = Status.APPROVED if kind == "approve" else Status.REJECTED
    move(work.session, approval, to, now, actor=staff.id, note=reason or None)
    approval.decided_by, approval.decided_at, approval.reason = staff.id, now, reason or None
    names = await _names(work.session, approval)
    decision = "DUYỆT" if kind == "approve" else "TỪ CHỐI"
    confirm = work.replies.render("approval_done", decision=decision, reason=reason, **names)
    if reply_to[0] == "cs":
        work.send_user(reply_to[1], confirm, purpose="approval")
    else:
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
