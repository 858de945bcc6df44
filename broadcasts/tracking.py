"""Who an announcement reached: receipts, replies in the group, links opened, the head's records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, distinct, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet
from bot.outbound.models import OutboundMessage
from bot.text import fold
from broadcasts.exports import Cell, csv_bytes
from broadcasts.models import (
    Acknowledgement,
    Broadcast,
    Campaign,
    Delivery,
    Household,
    HouseholdCategory,
    HouseholdMember,
)
from broadcasts.render import CODE_ALPHABET
from broadcasts.timing import format_local

OFFLINE_METHODS = {
    "meeting": "đọc ở cuộc họp",
    "in_person": "báo tận nhà",
    "loudspeaker": "loa phát thanh",
}


async def record_link_open(
    session: AsyncSession, token: str, now: datetime
) -> tuple[Delivery, str] | None:
    """A tracked link was opened: record it and return the delivery and the full text to show."""
    delivery = await session.scalar(select(Delivery).where(Delivery.link_token == token))
    if delivery is None:
        return None
    outbound = await session.get(OutboundMessage, delivery.outbound_id)
    session.add(
        Acknowledgement(
            broadcast_id=delivery.broadcast_id,
            hamlet_id=delivery.hamlet_id,
            kind="link_open",
            resident_id=delivery.resident_id,
            at=now,
        )
    )
    return delivery, outbound.text if outbound else ""


async def record_offline(
    session: AsyncSession,
    broadcast_id: int,
    household_id: int,
    method: str,
    staff_id: int,
    now: datetime,
) -> Acknowledgement:
    """The head says the household was told off Zalo (at a meeting, in person, by loudspeaker)."""
    household = await session.get(Household, household_id)
    if household is None:
        raise ValueError("Không tìm thấy hộ.")
    if method not in OFFLINE_METHODS:
        raise ValueError(f"Cách báo phải là một trong: {', '.join(OFFLINE_METHODS.values())}.")
    ack = Acknowledgement(
        broadcast_id=broadcast_id,
        hamlet_id=household.hamlet_id,
        kind="offline",
        household_id=household.id,
        method=method,
        recorded_by=staff_id,
        at=now,
    )
    session.add(ack)
    return ack


@dataclass(frozen=True)
class HamletReach:
    """Reach of one firing in one hamlet."""

    broadcast_id: int
    hamlet_id: int
    hamlet: str
    households: int
    reached: int
    poor: int
    poor_reached: int
    near_poor: int
    near_poor_reached: int
    group_delivered: bool

    @property
    def rate(self) -> float:
        """Reached households / households."""
        return self.reached / self.households if self.households else 0.0


WAYS = {
    "seen": "đã xem tin nhắn riêng",
    "group_reply": "trả lời trong nhóm",
    "link_open": "mở đường link",
}


def _reach_evidence(broadcast_id: int) -> CompoundSelect[Any]:
    """(household id, how) for every piece of evidence that a household got the firing."""
    seen = (
        select(HouseholdMember.household_id, literal("seen").label("way"))
        .join(Delivery, Delivery.resident_id == HouseholdMember.resident_id)
        .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
        .where(
            Delivery.broadcast_id == broadcast_id,
            Delivery.kind == "resident",
            OutboundMessage.seen_at.is_not(None),
        )
    )
    acked = (
        select(HouseholdMember.household_id, Acknowledgement.kind.label("way"))
        .join(Acknowledgement, Acknowledgement.resident_id == HouseholdMember.resident_id)
        .where(
            Acknowledgement.broadcast_id == broadcast_id,
            Acknowledgement.kind.in_(["group_reply", "link_open"]),
        )
    )
    # A link opened from the group post has no resident: it counts for no household.
    offline = select(Acknowledgement.household_id, Acknowledgement.method.label("way")).where(
        Acknowledgement.broadcast_id == broadcast_id,
        Acknowledgement.kind == "offline",
        Acknowledgement.household_id.is_not(None),
    )
    return union(seen, acked, offline)


async def reached_households(session: AsyncSession, broadcast_id: int) -> set[int]:
    """Households with at least one resident who saw the 1:1 copy, answered in the group or opened
    their own link, or that the head recorded as told off Zalo. A group post alone reaches nobody."""
    rows = (await session.execute(_reach_evidence(broadcast_id))).all()
    return {household for household, _ in rows if household is not None}


@dataclass(frozen=True)
class HouseholdReach:
    """One household of a hamlet and how a firing reached it (nothing: not reached yet)."""

    household: Household
    ways: tuple[str, ...]  # in Vietnamese: "đã xem tin nhắn riêng", "báo tận nhà", …

    @property
    def reached(self) -> bool:
        """Whether any evidence says the household got the announcement."""
        return bool(self.ways)


async def household_reach(
    session: AsyncSession, broadcast_id: int, hamlet_id: int
) -> list[HouseholdReach]:
    """Every household of a hamlet with how the firing reached it; those not reached first.

    The household names and categories are private: only the hamlet's own head and the commune's
    staff may be shown this."""
    ways: dict[int, set[str]] = {}
    for household, way in (await session.execute(_reach_evidence(broadcast_id))).all():
        if household is not None:
            ways.setdefault(household, set()).add(WAYS.get(way) or OFFLINE_METHODS.get(way, way))
    households = (
        await session.scalars(
            select(Household).where(Household.hamlet_id == hamlet_id).order_by(Household.code)
        )
    ).all()
    rows = [HouseholdReach(h, tuple(sorted(ways.get(h.id, ())))) for h in households]
    return sorted(rows, key=lambda r: r.reached)


async def reach(session: AsyncSession, broadcast_id: int) -> list[HamletReach]:
    """Reach per targeted hamlet for one firing: overall and for poor and near-poor households."""
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    reached = await reached_households(session, broadcast_id)
    group_hamlets = set(
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
    rows = []
    for hamlet in (
        await session.scalars(
            select(Hamlet).where(Hamlet.id.in_(campaign.hamlet_ids)).order_by(Hamlet.id)
        )
    ).all():
        households = (
            await session.scalars(select(Household).where(Household.hamlet_id == hamlet.id))
        ).all()
        total = Counter(h.category for h in households)
        hit = Counter(h.category for h in households if h.id in reached)
        rows.append(
            HamletReach(
                broadcast_id=broadcast_id,
                hamlet_id=hamlet.id,
                hamlet=hamlet.name,
                households=len(households),
                reached=sum(hit.values()),
                poor=total[HouseholdCategory.POOR],
                poor_reached=hit[HouseholdCategory.POOR],
                near_poor=total[HouseholdCategory.NEAR_POOR],
                near_poor_reached=hit[HouseholdCategory.NEAR_POOR],
                group_delivered=hamlet.id in group_hamlets,
            )
        )
    return rows


@dataclass
class RecentReach:
    """Reach over a commune's (or a hamlet's) latest firings: per hamlet, and for poor and near-poor
    households; each firing counts the households of the hamlets it went to."""

    firings: int = 0
    hamlets: list[tuple[str, int, int]] = field(default_factory=list)  # name, reached, households
    poor: tuple[int, int] = (0, 0)  # reached, households
    near_poor: tuple[int, int] = (0, 0)


async def recent_reach(
    session: AsyncSession, commune_id: int, own: int | None, *, firings: int = 5
) -> RecentReach:
    """Reach over the latest `firings` that went out (to `own` hamlet only, when given)."""
    query = (
        select(Broadcast.id, Campaign.hamlet_ids)
        .join(Campaign, Campaign.id == Broadcast.campaign_id)
        .where(
            Campaign.commune_id == commune_id,
            Broadcast.started_at.is_not(None),
            Broadcast.test_only.is_(False),
        )
        .order_by(Broadcast.fire_at.desc())
    )
    chosen: list[tuple[int, set[int]]] = []
    for broadcast_id, hamlet_ids in (await session.execute(query.limit(200))).all():
        targets = set(hamlet_ids) if own is None else set(hamlet_ids) & {own}
        if targets:
            chosen.append((broadcast_id, targets))
        if len(chosen) == firings:
            break
    hamlets = select(Hamlet.id, Hamlet.name).where(Hamlet.commune_id == commune_id)
    if own is not None:
        hamlets = hamlets.where(Hamlet.id == own)
    names = dict((await session.execute(hamlets.order_by(Hamlet.name))).all())
    by_kind = select(Household.hamlet_id, Household.category, func.count()).where(
        Household.hamlet_id.in_(list(names))
    )
    sizes = Counter[tuple[int, str]]()
    for hamlet_id, category, n in (
        await session.execute(by_kind.group_by(Household.hamlet_id, Household.category))
    ).all():
        sizes[(hamlet_id, category)] = int(n)
    reached = Counter[tuple[int, str]]()
    total = Counter[tuple[int, str]]()
    for broadcast_id, targets in chosen:
        evidence = _reach_evidence(broadcast_id).subquery()
        rows = await session.execute(
            select(Household.hamlet_id, Household.category, func.count(distinct(Household.id)))
            .where(
                Household.id.in_(select(evidence.c.household_id)),
                Household.hamlet_id.in_(targets),
            )
            .group_by(Household.hamlet_id, Household.category)
        )
        for hamlet_id, category, n in rows.all():
            reached[(hamlet_id, category)] += int(n)
        for key, n in sizes.items():
            if key[0] in targets:
                total[key] += n

    def summed(
        counter: Counter[tuple[int, str]], *, hamlet: int | None = None, kind: str | None = None
    ) -> int:
        return sum(
            n
            for (h, c), n in counter.items()
            if (hamlet is None or h == hamlet) and (kind is None or c == kind)
        )

    return RecentReach(
        firings=len(chosen),
        hamlets=[
            (name, summed(reached, hamlet=h), summed(total, hamlet=h))
            for h, name in names.items()
            if summed(total, hamlet=h)
        ],
        poor=(
            summed(reached, kind=HouseholdCategory.POOR),
            summed(total, kind=HouseholdCategory.POOR),
        ),
        near_poor=(
            summed(reached, kind=HouseholdCategory.NEAR_POOR),
            summed(total, kind=HouseholdCategory.NEAR_POOR),
        ),
    )


CSV_HEADER = [
    "Đợt thông báo",
    "Mã xác thực",
    "Thời gian gửi",
    "Ấp",
    "Số hộ",
    "Số hộ đã tiếp cận",
    "Tỷ lệ (%)",
    "Hộ nghèo",
    "Hộ nghèo đã tiếp cận",
    "Hộ cận nghèo",
    "Hộ cận nghèo đã tiếp cận",
    "Đã gửi vào nhóm Zalo",
]


async def reach_table(
    session: AsyncSession,
    commune_id: int,
    start: datetime,
    end: datetime,
    *,
    broadcast_id: int | None = None,
) -> list[list[Cell]]:
    """Reach per firing and hamlet for firings in [start, end) (or one firing), in CSV_HEADER's order.

    Only counts: no household names, categories or phone numbers."""
    query = (
        select(Broadcast, Campaign)
        .join(Campaign, Campaign.id == Broadcast.campaign_id)
        .where(
            Campaign.commune_id == commune_id,
            Broadcast.fire_at >= start,
            Broadcast.fire_at < end,
            Broadcast.started_at.is_not(None),
        )
        .order_by(Broadcast.fire_at)
    )
    if broadcast_id is not None:
        query = query.where(Broadcast.id == broadcast_id)
    rows: list[list[Cell]] = []
    for broadcast, campaign in (await session.execute(query)).all():
        for row in await reach(session, broadcast.id):
            rows.append(
                [
                    campaign.title,
                    broadcast.code,
                    format_local(broadcast.fire_at),
                    row.hamlet,
                    row.households,
                    row.reached,
                    100 * row.rate,
                    row.poor,
                    row.poor_reached,
                    row.near_poor,
                    row.near_poor_reached,
                    "có" if row.group_delivered else "không",
                ]
            )
    return rows


async def reach_csv(
    session: AsyncSession, commune_id: int, start: datetime, end: datetime
) -> bytes:
    """Reach per firing and hamlet for firings in [start, end): UTF-8 with BOM so Excel reads it right."""
    return csv_bytes(CSV_HEADER, await reach_table(session, commune_id, start, end))


def find_code(text: str) -> str | None:
    """A verification code in a message: right after "mã xác thực" (or "mã"), or the code alone."""
    words = text.split()
    if len(words) == 1:
        return _code_in(words[0])
    folded = [fold(w) for w in words]
    for i, word in enumerate(folded):
        if word != "ma":
            continue
        rest = words[i + 1 :]
        if len(rest) >= 2 and fold(rest[0]) == "xac" and fold(rest[1]) == "thuc":
            rest = rest[2:]
        for candidate in rest[:2]:
            code = _code_in(candidate)
            if code:
                return code
    return None


def _code_in(word: str) -> str | None:
    word = word.strip(".,;:!?()[]\"'«»“”—-")
    if len(word) == 6 and word.upper() == word and all(ch in CODE_ALPHABET for ch in word):
        return word
    return None
