"""What officials and heads do to campaigns outside chat: cancel, approve, resend failures, record reach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Commune, Hamlet, Staff
from bot.directory.roles import Action, can, head_title
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.work import Work
from broadcasts.approval import decide
from broadcasts.models import Broadcast, Campaign, Delivery, HamletApproval, Household, Status
from broadcasts.tracking import record_offline
from broadcasts.workflow import move


class ActionError(Exception):
    """A refused action, explained in Vietnamese."""


OPEN = (Status.AWAITING, Status.SCHEDULED, Status.SENDING)
# A campaign in one of these has nothing left to send, so nothing left to cancel.
FINISHED = (Status.CANCELLED, Status.SENT, Status.FAILED, Status.MISSED)
# A campaign in one of these may still be edited, as long as none of its firings has started.
EDITABLE = (Status.DRAFT, Status.AWAITING, Status.SCHEDULED)


async def cancel_campaign(
    session: AsyncSession, campaign_id: int, staff: Staff, now: datetime
) -> int:
    """Cancel a campaign and its open firings; what has not left stays unsent. Returns messages withheld."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise ActionError(f"Không có đợt thông báo số {campaign_id}.")
    if not can(staff, Action.RUN_CAMPAIGNS):
        raise ActionError("Chỉ cán bộ xã hoặc quản trị xã mới huỷ được đợt thông báo.")
    if campaign.status in FINISHED:
        raise ActionError(f"Đợt thông báo số {campaign_id} đã kết thúc, không huỷ được.")
    withheld = 0
    for broadcast in (
        await session.scalars(
            select(Broadcast).where(
                Broadcast.campaign_id == campaign.id, Broadcast.status.in_(OPEN)
            )
        )
    ).all():
        outbound_ids = select(Delivery.outbound_id).where(Delivery.broadcast_id == broadcast.id)
        result = await session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id.in_(outbound_ids), OutboundMessage.status == OutboxStatus.PENDING
            )
            .values(status=OutboxStatus.CANCELLED)
        )
        withheld += result.rowcount  # type: ignore[attr-defined]
        for approval in (
            await session.scalars(
                select(HamletApproval).where(
                    HamletApproval.broadcast_id == broadcast.id,
                    HamletApproval.status.in_([Status.AWAITING, Status.APPROVED]),
                )
            )
        ).all():
            move(session, approval, Status.CANCELLED, now, actor=staff.id)
        move(session, broadcast, Status.CANCELLED, now, actor=staff.id)
    campaign.next_fire_at = None
    move(session, campaign, Status.CANCELLED, now, actor=staff.id)
    return withheld


async def approve_for_hamlet(
    work: Work,
    broadcast_id: int,
    hamlet_id: int,
    staff: Staff,
    *,
    reject_reason: str | None = None,
) -> None:
    """Approve (or reject) one hamlet's copy of a firing, as that hamlet's approver only."""
    approval = await work.session.scalar(
        select(HamletApproval).where(
            HamletApproval.broadcast_id == broadcast_id, HamletApproval.hamlet_id == hamlet_id
        )
    )
    hamlet = await work.session.get(Hamlet, hamlet_id)
    name = hamlet.name if hamlet else f"nơi mã {hamlet_id}"
    if approval is None:
        if await work.session.get(Broadcast, broadcast_id) is None:
            raise ActionError(f"Không có lần gửi mã {broadcast_id}.")
        raise ActionError(f"Lần gửi này không gửi tới {name}.")
    if approval.status == Status.MISSED:
        raise ActionError(f"Đã quá hạn duyệt: {name} không nhận thông báo lần này.")
    if approval.status != Status.AWAITING:
        raise ActionError(f"{name} đã được trả lời rồi.")
    if staff.id != approval.approver_staff_id:
        approver = (
            await work.session.get(Staff, approval.approver_staff_id)
            if approval.approver_staff_id
            else None
        )
        who = approver.name if approver else "quản trị xã"
        raise ActionError(f"Anh/chị không duyệt được cho {name}: người duyệt là {who}.")
    if reject_reason is not None and not reject_reason.strip():
        raise ActionError("Từ chối cần kèm lý do.")
    broadcast = await work.session.get(Broadcast, broadcast_id)
    # Sending already: a post sent "now" goes out to the hamlets approved so far, and to each
    # other hamlet as soon as its head approves, until the deadline.
    if broadcast is None or broadcast.status not in (
        Status.AWAITING,
        Status.SCHEDULED,
        Status.SENDING,
    ):
        raise ActionError("Lần gửi này không còn chờ duyệt.")
    # Two answers at once (two taps, two devices): the first to claim the row decides; the other
    # waits on the row's lock, then finds it no longer awaiting.
    claimed = await work.session.execute(
        update(HamletApproval)
        .where(HamletApproval.id == approval.id, HamletApproval.status == Status.AWAITING)
        .values(decided_at=work.now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise ActionError("Ấp này đã được trả lời rồi.")
    kind = "approve" if reject_reason is None else "reject"
    # Confirmed in Zalo when the approver is on Zalo; the desk shows its own confirmation.
    reply_to = (Channel.CS, staff.zalo_user_id) if staff.zalo_user_id else None
    await decide(work, approval, staff, kind, reject_reason or "", reply_to=reply_to)


async def retry_failed(
    session: AsyncSession, broadcast_id: int, staff: Staff, now: datetime
) -> int:
    """ "Gửi lại tin lỗi": put a firing's failed copies back in the queue; returns how many."""
    note = "gửi lại {} tin lỗi"
    return await _settle_copies(session, broadcast_id, staff, now, OutboxStatus.FAILED, note)


async def resend_uncertain(
    session: AsyncSession,
    broadcast_id: int,
    staff: Staff,
    now: datetime,
    hamlet_id: int | None = None,
) -> int:
    """After a person looked in Zalo and saw no copy: send the uncertain ones again, once."""
    note = "gửi lại {} tin chưa rõ đã đến, sau khi kiểm tra"
    return await _settle_copies(
        session, broadcast_id, staff, now, OutboxStatus.UNCERTAIN, note, hamlet_id
    )


async def seen_uncertain(
    session: AsyncSession,
    broadcast_id: int,
    staff: Staff,
    now: datetime,
    hamlet_id: int | None = None,
) -> int:
    """After a person saw the copies in Zalo: record the uncertain ones as sent, never resend them."""
    note = "{} tin chưa rõ đã được xác nhận là đã đến"
    return await _settle_copies(
        session, broadcast_id, staff, now, OutboxStatus.UNCERTAIN, note, hamlet_id, seen=True
    )


async def _settle_copies(
    session: AsyncSession,
    broadcast_id: int,
    staff: Staff,
    now: datetime,
    status: OutboxStatus,
    note: str,
    hamlet_id: int | None = None,
    *,
    seen: bool = False,
) -> int:
    if not can(staff, Action.RUN_CAMPAIGNS):
        raise ActionError("Chỉ cán bộ xã hoặc quản trị xã mới gửi lại được tin của đợt thông báo.")
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise ActionError(f"Không có lần gửi mã {broadcast_id}.")
    if broadcast.status not in (Status.SENT, Status.FAILED):
        raise ActionError("Chỉ gửi lại được khi lần gửi đã xong.")
    copies = select(Delivery.outbound_id).where(Delivery.broadcast_id == broadcast.id)
    if hamlet_id is not None:
        copies = copies.where(Delivery.hamlet_id == hamlet_id)
    chosen = update(OutboundMessage).where(
        OutboundMessage.id.in_(copies),
        OutboundMessage.status == status,
        OutboundMessage.text != "",  # a forgotten resident's copy is never sent again
    )
    if seen:
        values: dict[str, object] = {"status": OutboxStatus.SENT, "error_reason": None}
    else:
        values = {
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "resolve_attempts": 0,
            "next_attempt_at": now,
            "error_code": None,
            "error_reason": None,
        }
    result = await session.execute(chosen.values(**values))
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:  # the firing finishes again, and its author gets the new figures
        move(session, broadcast, Status.SENDING, now, actor=staff.id, note=note.format(count))
    return count


async def offline_reach(
    session: AsyncSession,
    broadcast_id: int,
    household_code: str,
    method: str,
    staff: Staff,
    now: datetime,
) -> None:
    """The head records a household told off Zalo; heads record only for their own hamlet."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise ActionError(f"Không có lần gửi mã {broadcast_id}.")
    household = await session.scalar(
        select(Household).where(
            Household.commune_id == staff.commune_id, Household.code == household_code
        )
    )
    if household is None:
        raise ActionError(f"Không có hộ mã {household_code}.")
    commune = await session.get(Commune, staff.commune_id)
    word = commune.hamlet_word if commune else "ấp"
    if not can(staff, Action.RECORD_OFFLINE, household.hamlet_id):
        raise ActionError(
            f"{head_title(word).capitalize()} và tổ công nghệ số chỉ ghi nhận được cho hộ "
            f"trong {word} mình."
        )
    campaign = await session.get(Campaign, broadcast.campaign_id)
    if campaign is None or household.hamlet_id not in campaign.hamlet_ids:
        raise ActionError(
            f"Lần gửi mã {broadcast_id} không gửi tới {word} của hộ {household_code}."
        )
    if not broadcast.started_at:
        raise ActionError(f"Lần gửi mã {broadcast_id} chưa gửi đi, chưa ghi nhận được.")
    try:
        await record_offline(session, broadcast.id, household.id, method, staff.id, now)
    except ValueError as exc:
        raise ActionError(str(exc)) from exc
