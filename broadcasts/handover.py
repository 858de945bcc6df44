"""Handing a hamlet to a new head after an election: one action, audited as one.

The new head's account is created (or the existing one moved to the hamlet); the old head's is
disabled, ending their sessions at once; the hamlet's approvals still waiting go to the new head.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry, Commune, Hamlet, Staff, StaffRole
from bot.directory.phones import normalise_phone
from bot.directory.roles import TERRITORIAL, role_label
from bot.directory.staffing import StaffChange, StaffError, save_staff, set_active
from broadcasts.models import Broadcast, HamletApproval, Status


@dataclass(frozen=True)
class HandOver:
    """What one hand-over changed."""

    new_head: Staff
    old_heads: list[Staff]
    approvals_moved: int


async def current_heads(session: AsyncSession, hamlet_id: int) -> list[Staff]:
    """The hamlet's active heads (one, normally), whom a hand-over retires."""
    return list(
        (
            await session.scalars(
                select(Staff).where(
                    Staff.hamlet_id == hamlet_id,
                    Staff.role == StaffRole.HAMLET_HEAD,
                    Staff.active.is_(True),
                )
            )
        ).all()
    )


async def _check_taker(session: AsyncSession, commune: Commune, hamlet: Hamlet, phone: str) -> None:
    """An existing account takes the hamlet only if it works at a hamlet's level and is free."""
    normal = normalise_phone(phone)
    owner = await session.scalar(select(Staff).where(Staff.phone == normal)) if normal else None
    if owner is None:
        return
    word = commune.hamlet_word
    if owner.role == StaffRole.HAMLET_HEAD and owner.active and owner.hamlet_id == hamlet.id:
        raise StaffError(
            {
                "phone": f"Số {normal} là của {owner.name}, đang là trưởng {word} {hamlet.name}. "
                f"Xin ghi số của trưởng {word} mới."
            }
        )
    if owner.role not in TERRITORIAL:
        role = role_label(owner.role, word)
        raise StaffError(
            {"phone": f"Số {normal} là của {owner.name} ({role}); trưởng {word} mới cần số riêng."}
        )
    if owner.role == StaffRole.HAMLET_HEAD and owner.active and owner.hamlet_id != hamlet.id:
        other = await session.get(Hamlet, owner.hamlet_id) if owner.hamlet_id else None
        where = other.name if other else f"một {word} khác"
        raise StaffError({"phone": f"{owner.name} đang là trưởng {word} của {where}."})


async def hand_over_hamlet(
    session: AsyncSession,
    commune: Commune,
    hamlet: Hamlet,
    name: str,
    phone: str,
    zalo_id: str,
    actor: Staff,
    now: datetime,
) -> HandOver:
    """Make this person the hamlet's head and retire the heads before them; StaffError if not."""
    old_heads = await current_heads(session, hamlet.id)
    await _check_taker(session, commune, hamlet, phone)
    # A blank Zalo id keeps the one an existing account already has.
    change = StaffChange(
        name, phone, StaffRole.HAMLET_HEAD.value, hamlet.id, zalo_id.strip() or None
    )
    new_head, _ = await save_staff(
        session, commune, change, now, actor_id=actor.id, via=f"giao {hamlet.name}"
    )
    old_heads = [s for s in old_heads if s.id != new_head.id]
    for old in old_heads:
        await set_active(session, old, False, now, actor_id=actor.id, via=f"giao {hamlet.name}")
    waiting = select(Broadcast.id).where(Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED]))
    moved = await session.execute(
        update(HamletApproval)
        .where(
            HamletApproval.hamlet_id == hamlet.id,
            HamletApproval.status == Status.AWAITING,
            HamletApproval.broadcast_id.in_(waiting),
        )
        .values(approver_staff_id=new_head.id)
        .execution_options(synchronize_session=False)
    )
    count = int(getattr(moved, "rowcount", 0) or 0)
    before = ", ".join(s.name for s in old_heads) or "chưa có"
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=actor.id,
            entity="hamlet",
            entity_id=hamlet.id,
            to_status="handed_over",
            note=(
                f"{hamlet.name}: trưởng {commune.hamlet_word} {before} → {new_head.name}; "
                f"{count} thông báo chờ duyệt chuyển sang người mới"
            )[:500],
        )
    )
    return HandOver(new_head, old_heads, count)
