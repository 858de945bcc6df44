"""A hamlet head answers an approval request by replying in Zalo, 1:1 or in the commune group."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.chat.conversation import conversation_for
from bot.directory.models import Commune, Staff
from bot.directory.people import resident_for, staff_for
from bot.inbound.context import Context
from bot.inbound.events import GroupText, UserText
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage
from bot.text import fold
from broadcasts.approval import approval_names, decide, pending_for
from broadcasts.models import HamletApproval, Status

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
                reply_to=(Channel.CS, event.user_id),
            )
            return True
    approval = await pending_for(ctx.session, staff)
    if approval is None:
        return False
    decision = read_decision(event.text)
    names = await approval_names(ctx.session, approval)
    if decision is None:
        ctx.send_user(
            event.user_id, ctx.replies.render("approval_unclear", **names), purpose="approval"
        )
        return True
    kind, reason = decision
    if kind == "reject" and not reason:
        conv.pending = {"kind": "reject_reason", "approval_id": approval.id}
        ctx.send_user(
            event.user_id,
            ctx.replies.render("approval_ask_reason", **names),
            purpose="approval",
        )
        return True
    await decide(ctx, approval, staff, kind, reason, reply_to=(Channel.CS, event.user_id))
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
    if approval is None or approval.status not in (Status.AWAITING, Status.MISSED):
        return False
    decision = read_decision(event.text)
    if decision is None:
        return False
    names = await approval_names(ctx.session, approval)
    if approval.status == Status.MISSED:  # an answer to a request past its deadline
        if staff is not None and staff.id == approval.approver_staff_id:
            ctx.send_group(
                event.group_id, ctx.replies.render("approval_too_late", **names), purpose="approval"
            )
            return True
        return False
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
    await decide(ctx, approval, staff, kind, reason, reply_to=(Channel.GROUP, event.group_id))
    return True
