"""Who a firing could not reach 1:1 in a hamlet, and why: counted when the hamlet's copies are written.

Zalo lets the OA write to a resident only within 7 days of their last message, and never to one
who does not follow it; residents can also opt out. Those residents get the announcement only
through the hamlet's group, if at all. The reach figures count households reached; these counts
say why the others were not, as things stood when the copies were written (a resident who writes
to the OA later does not change why they got no copy then).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet, Resident
from bot.directory.people import CS_WINDOW, may_follow
from bot.outbound.models import OutboundMessage
from broadcasts.models import Campaign, Delivery, HamletApproval, Household, HouseholdMember


@dataclass(frozen=True)
class ReachGaps:
    """A hamlet's targeted residents by whether they got a 1:1 copy, and households with none."""

    one_to_one: int  # residents a 1:1 copy was written to
    outside_window: int  # follow the OA but have not written to it in the last 7 days
    opted_out: int  # wrote "ngừng nhận"
    not_following: int  # unfollowed the OA
    households: int  # targeted households of the hamlet
    households_without_copy: int  # none of their members got a 1:1 copy
    households_off_zalo: int  # of those, nobody of the household is known on Zalo at all

    @property
    def without_copy(self) -> int:
        """Targeted residents who got no 1:1 copy."""
        return self.outside_window + self.opted_out + self.not_following

    def as_json(self) -> dict[str, int]:
        """The counts as stored with the hamlet's approval."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReachGaps | None:
        """The stored counts; None for a hamlet written before they were kept."""
        if not data:
            return None
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def count_gaps(
    session: AsyncSession, broadcast_id: int, campaign: Campaign, hamlet_id: int, now: datetime
) -> ReachGaps:
    """The hamlet's gaps for the firing, once its 1:1 copies are all written (as of `now`)."""
    given = select(Delivery.resident_id).where(
        Delivery.broadcast_id == broadcast_id,
        Delivery.kind == "resident",
        Delivery.hamlet_id == hamlet_id,
        Delivery.resident_id.is_not(None),
    )
    targeted = select(Resident.id).where(Resident.hamlet_id == hamlet_id)
    households = select(Household.id).where(Household.hamlet_id == hamlet_id)
    if campaign.household_categories:
        households = households.where(Household.category.in_(campaign.household_categories))
        targeted = targeted.join(HouseholdMember, HouseholdMember.resident_id == Resident.id).where(
            HouseholdMember.household_id.in_(households)
        )
    got = Resident.id.in_(given)
    follows = may_follow()
    stale = or_(
        Resident.last_interaction_at.is_(None), Resident.last_interaction_at <= now - CS_WINDOW
    )
    one, window, opted, unfollowed = (
        await session.execute(
            select(
                _count(got),
                _count(and_(not_(got), follows, Resident.opted_out.is_(False), stale)),
                _count(and_(not_(got), follows, Resident.opted_out.is_(True))),
                _count(and_(not_(got), not_(follows))),
            ).where(Resident.id.in_(targeted))
        )
    ).one()
    members = select(HouseholdMember.household_id)
    reached = members.where(HouseholdMember.resident_id.in_(given))
    total, without, off_zalo = (
        await session.execute(
            select(
                func.count(),
                _count(Household.id.not_in(reached)),
                _count(Household.id.not_in(members)),
            ).where(Household.id.in_(households))
        )
    ).one()
    return ReachGaps(
        one_to_one=int(one),
        outside_window=int(window),
        opted_out=int(opted),
        not_following=int(unfollowed),
        households=int(total),
        households_without_copy=int(without),
        households_off_zalo=int(off_zalo),
    )


def gaps_words(gaps: ReachGaps, *, group_sent: bool) -> str:
    """The gaps as officials read them: "2 người được gửi tin riêng; 3 người chỉ có thể nhận qua
    nhóm (…); …"."""
    parts = [f"{gaps.one_to_one} người được gửi tin riêng"]
    if gaps.without_copy:
        why = [
            f"{n} {words}"
            for n, words in (
                (gaps.outside_window, "quá 7 ngày chưa nhắn OA"),
                (gaps.opted_out, "đã ngừng nhận"),
                (gaps.not_following, "đã bỏ quan tâm OA"),
            )
            if n
        ]
        how = "chỉ có thể nhận qua nhóm" if group_sent else "không nhận được qua Zalo"
        parts.append(f"{gaps.without_copy} người {how} ({', '.join(why)})")
    if gaps.households_without_copy:
        off = (
            f", trong đó {gaps.households_off_zalo} hộ chưa có ai liên kết Zalo"
            if gaps.households_off_zalo
            else ""
        )
        parts.append(
            f"{gaps.households_without_copy}/{gaps.households} hộ chưa có ai được gửi tin riêng{off}"
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class HamletGaps:
    """One hamlet's gaps for a firing, with whether its group got the announcement."""

    hamlet_id: int
    hamlet: str
    gaps: ReachGaps
    group_sent: bool

    def words(self) -> str:
        """ "Ấp Tân Lập: tin riêng 2 người; …"."""
        return f"{self.hamlet}: {gaps_words(self.gaps, group_sent=self.group_sent)}"


async def group_sent_hamlets(session: AsyncSession, broadcast_id: int) -> set[int]:
    """Hamlets whose group Zalo took the firing's post for; a post it refused reached nobody."""
    return set(
        (
            await session.scalars(
                select(Delivery.hamlet_id)
                .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
                .where(
                    Delivery.broadcast_id == broadcast_id,
                    Delivery.kind == "group",
                    OutboundMessage.sent_at.is_not(None),
                )
            )
        ).all()
    )


async def firing_gaps(session: AsyncSession, broadcast_id: int) -> list[HamletGaps]:
    """The gaps of every hamlet whose copies of the firing are written, in hamlet order."""
    grouped = await group_sent_hamlets(session, broadcast_id)
    rows = (
        await session.execute(
            select(Hamlet.id, Hamlet.name, HamletApproval.reach_gaps)
            .join(HamletApproval, HamletApproval.hamlet_id == Hamlet.id)
            .where(
                HamletApproval.broadcast_id == broadcast_id,
                HamletApproval.reach_gaps.is_not(None),
            )
            .order_by(Hamlet.id)
        )
    ).all()
    found = []
    for hamlet_id, name, data in rows:
        gaps = ReachGaps.from_json(data)
        if gaps is not None:
            found.append(HamletGaps(hamlet_id, name, gaps, hamlet_id in grouped))
    return found
