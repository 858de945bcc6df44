"""Status transitions of campaigns, firings and hamlet approvals; every change is audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status

S = Status

# What each entity may move to from each status; anything else is a bug, not a state.
TRANSITIONS: dict[str, dict[Status, frozenset[Status]]] = {
    "campaign": {
        S.DRAFT: frozenset({S.AWAITING, S.SCHEDULED, S.CANCELLED}),
        S.AWAITING: frozenset({S.SCHEDULED, S.SENDING, S.SENT, S.CANCELLED, S.FAILED}),
        S.SCHEDULED: frozenset({S.AWAITING, S.SENDING, S.SENT, S.CANCELLED, S.FAILED}),
        S.SENDING: frozenset({S.AWAITING, S.SCHEDULED, S.SENT, S.CANCELLED, S.FAILED}),
        S.SENT: frozenset(),
        S.CANCELLED: frozenset(),
        S.FAILED: frozenset({S.SENDING}),
    },
    "broadcast": {
        S.AWAITING: frozenset({S.SCHEDULED, S.SENDING, S.CANCELLED, S.MISSED}),
        S.SCHEDULED: frozenset({S.AWAITING, S.SENDING, S.CANCELLED, S.MISSED}),
        S.SENDING: frozenset({S.SENT, S.FAILED, S.CANCELLED}),
        S.SENT: frozenset({S.SENDING}),  # "gửi lại tin lỗi"
        S.FAILED: frozenset({S.SENDING}),
        S.CANCELLED: frozenset(),
        S.MISSED: frozenset(),
    },
    "approval": {
        S.AWAITING: frozenset({S.APPROVED, S.REJECTED, S.MISSED, S.CANCELLED}),
        S.APPROVED: frozenset({S.CANCELLED}),
        S.REJECTED: frozenset(),
        S.MISSED: frozenset(),
        S.CANCELLED: frozenset(),
    },
}

LABELS = {
    S.DRAFT: "bản nháp",
    S.AWAITING: "chờ duyệt",
    S.APPROVED: "đã duyệt",
    S.REJECTED: "từ chối",
    S.SCHEDULED: "đã hẹn giờ",
    S.SENDING: "đang gửi",
    S.SENT: "đã gửi",
    S.CANCELLED: "đã huỷ",
    S.FAILED: "gửi lỗi",
    S.MISSED: "bỏ lỡ",
}

# Campaign and household kinds as officials and heads read them.
CAMPAIGN_KINDS = {
    "general": "thông báo chung",
    "meeting": "họp",
    "policy": "chính sách",
    "urgent": "khẩn",
}
HOUSEHOLD_KINDS = {
    "poor": "hộ nghèo",
    "near_poor": "hộ cận nghèo",
    "newly_escaped": "hộ mới thoát nghèo",
    "other": "hộ khác",
}


class TransitionError(Exception):
    """A status change the table does not allow."""


def label(status: str) -> str:
    """The Vietnamese word for a status."""
    return LABELS.get(Status(status), status)


def move(
    session: AsyncSession,
    item: Campaign | Broadcast | HamletApproval,
    to: Status,
    now: datetime,
    *,
    actor: int | None = None,
    note: str | None = None,
    flagged: bool = False,
) -> bool:
    """Change an item's status through the table and append the audit entry; False if already there."""
    entity = {Campaign: "campaign", Broadcast: "broadcast", HamletApproval: "approval"}[type(item)]
    current = Status(item.status)
    if current == to:
        return False
    if to not in TRANSITIONS[entity][current]:
        raise TransitionError(f"{entity} {item.id}: {current} -> {to} is not allowed")
    item.status = to
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=actor,
            entity=entity,
            entity_id=item.id,
            from_status=current,
            to_status=to,
            note=note,
            flagged=flagged,
        )
    )
    return True
