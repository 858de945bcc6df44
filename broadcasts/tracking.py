"""Who an announcement reached: receipts, replies in the group, links opened, the head's records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from broadcasts.reach_gaps import firing_gaps, group_sent_hamlets
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


def _reach_evidence(broadcast_id: int, hamlet_ids: list[int] | None = None) -> CompoundSelect[Any]:
    """(household id, how) for every piece of evidence that a household got the firing; of the
    households of `hamlet_ids` only, when given (the evidence is then looked up from them)."""

    # For some hamlets, the evidence is looked up from their households' members (an index on
    # deliveries by firing and resident), not read for the whole firing and then filtered.
    members = (
        select(HouseholdMember.resident_id)
        .join(Household, Household.id == HouseholdMember.household_id)
        .where(Household.hamlet_id.in_(hamlet_ids or []))
    )
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
    if hamlet_ids is not None:
        seen = seen.where(Delivery.resident_id.in_(members))
        acked = acked.where(Acknowledgement.resident_id.in_(members))
        offline = offline.where(
            Acknowledgement.household_id.in_(
                select(Household.id).where(Household.hamlet_id.in_(hamlet_ids))
            )
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
    evidence = _reach_evidence(broadcast_id, [hamlet_id])
    for household, way in (await session.execute(evidence)).all():
        if household is not None:
            ways.setdefault(household, set()).add(WAYS.get(way) or OFFLINE_METHODS.get(way, way))
    households = (
        await session.scalars(
            select(Household).where(Household.hamlet_id == hamlet_id).order_by(Household.code)
        )
    ).all()
    rows = [HouseholdReach(h, tuple(sorted(ways.get(h.id, ())))) for h in households]
    return sorted(rows, key=lambda r: r.reached)


async def _reach_counts(
    session: AsyncSession, broadcast_id: int, targets: list[int], *, whole: bool
) -> tuple[Counter[tuple[int, str]], Counter[tuple[int, str]]]:
    """Households and households reached, by (hamlet, category), among the targeted hamlets.

    `whole`: the targets are every hamlet the firing went to, so the evidence is read for the
    firing at once; else it is looked up from the targets' households."""
    sizes: Counter[tuple[int, str]] = Counter()
    reached: Counter[tuple[int, str]] = Counter()
    if not targets:
        return sizes, reached
    for hamlet_id, category, n in (
        await session.execute(
            select(Household.hamlet_id, Household.category, func.count())
            .where(Household.hamlet_id.in_(targets))
            .group_by(Household.hamlet_id, Household.category)
        )
    ).all():
        sizes[(hamlet_id, category)] = int(n)
    evidence = _reach_evidence(broadcast_id, None if whole else targets).subquery()
    for hamlet_id, category, n in (
        await session.execute(
            select(Household.hamlet_id, Household.category, func.count(distinct(Household.id)))
            .where(
                Household.id.in_(select(evidence.c.household_id)),
                Household.hamlet_id.in_(targets),
            )
            .group_by(Household.hamlet_id, Household.category)
        )
    ).all():
        reached[(hamlet_id, category)] = int(n)
    return sizes, reached


Counts = tuple[Counter[tuple[int, str]], Counter[tuple[int, str]]]


@dataclass
class ReachCache:
    """Whole-firing reach counts, kept a minute per firing in this process.

    At 100,000 residents they take most of a second to work out, and the commune's pages show them
    to everyone who opens the dashboard; a minute-old figure, said to be one, serves them all. A
    hamlet's own page reads its few households live and never comes here."""

    ttl: timedelta = timedelta(minutes=1)
    kept: int = 100  # firings
    _entries: dict[int, tuple[datetime, Counts]] = field(default_factory=dict)

    async def counts(
        self, session: AsyncSession, broadcast_id: int, targets: list[int], now: datetime
    ) -> tuple[Counts, datetime]:
        """The firing's counts over its targeted hamlets, and when they were worked out."""
        found = self._entries.get(broadcast_id)
        if found is not None and now - found[0] < self.ttl:
            return found[1], found[0]
        counts = await _reach_counts(session, broadcast_id, targets, whole=True)
        self._entries[broadcast_id] = (now, counts)
        while len(self._entries) > self.kept:
            self._entries.pop(next(iter(self._entries)))
        return counts, now

    def as_of(self, broadcast_id: int) -> datetime | None:
        """When the firing's kept counts were worked out; None if none are kept."""
        found = self._entries.get(broadcast_id)
        return found[0] if found else None

    def clear(self) -> None:
        """Drop every kept count."""
        self._entries.clear()

    def forget(self, broadcast_id: int) -> None:
        """Drop a firing's counts: someone just changed its reach (an offline record)."""
        self._entries.pop(broadcast_id, None)


async def reach(
    session: AsyncSession,
    broadcast_id: int,
    hamlet_ids: list[int] | None = None,
    *,
    cache: tuple[ReachCache, datetime] | None = None,
) -> list[HamletReach]:
    """Reach per targeted hamlet (of `hamlet_ids`, when given) for one firing: overall and for
    poor and near-poor households. A few queries, however many hamlets; the whole firing's counts
    come from `cache` (and the time now) when given."""
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    targets = [h for h in campaign.hamlet_ids if hamlet_ids is None or h in hamlet_ids]
    if not targets:
        return []
    if cache is not None and hamlet_ids is None:
        (sizes, hits), _ = await cache[0].counts(session, broadcast_id, targets, cache[1])
    else:
        sizes, hits = await _reach_counts(session, broadcast_id, targets, whole=hamlet_ids is None)
    # The hamlets are kept out of the SQL: with them, a database may walk every copy of the firing
    # by its hamlet index instead of the few group copies by (firing, kind).
    wanted = set(targets)
    group_hamlets = await group_sent_hamlets(session, broadcast_id) & wanted
    names = (
        await session.execute(
            select(Hamlet.id, Hamlet.name).where(Hamlet.id.in_(targets)).order_by(Hamlet.id)
        )
    ).all()

    total: dict[int, Counter[str]] = {}
    hit: dict[int, Counter[str]] = {}
    for counts, into in ((sizes, total), (hits, hit)):
        for (hamlet_id, category), n in counts.items():
            into.setdefault(hamlet_id, Counter())[category] += n
    empty: Counter[str] = Counter()
    rows = []
    for hamlet_id, name in names:
        t, r = total.get(hamlet_id, empty), hit.get(hamlet_id, empty)
        rows.append(
            HamletReach(
                broadcast_id=broadcast_id,
                hamlet_id=hamlet_id,
                hamlet=name,
                households=sum(t.values()),
                reached=sum(r.values()),
                poor=t[HouseholdCategory.POOR],
                poor_reached=r[HouseholdCategory.POOR],
                near_poor=t[HouseholdCategory.NEAR_POOR],
                near_poor_reached=r[HouseholdCategory.NEAR_POOR],
                group_delivered=hamlet_id in group_hamlets,
            )
        )
    return rows


@dataclass
class RecentReach:
    """Reach over a commune's (or a hamlet's) latest firings: per hamlet, and for poor and near-poor
    households; each firing counts the households of the hamlets it went to."""

    firings: int = 0
    hamlets: list[tuple[str, int, int]] = field(default_factory=list)  # name, reached, households
    more: int = 0  # hamlets left out of `hamlets`, which keeps the lowest reach when there are many
    poor: tuple[int, int] = (0, 0)  # reached, households
    near_poor: tuple[int, int] = (0, 0)


async def recent_reach(
    session: AsyncSession,
    commune_id: int,
    own: int | None,
    *,
    firings: int = 5,
    shown: int = 12,
    cache: tuple[ReachCache, datetime] | None = None,
) -> RecentReach:
    """Reach over the latest `firings` that went out (to `own` hamlet only, when given); at most
    `shown` hamlets, the lowest reach first kept."""
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
    reached: Counter[tuple[int, str]] = Counter()
    total: Counter[tuple[int, str]] = Counter()
    for broadcast_id, targets in chosen:
        if cache is not None and own is None:
            (sizes, hits), _ = await cache[0].counts(
                session, broadcast_id, sorted(targets), cache[1]
            )
        else:
            sizes, hits = await _reach_counts(
                session, broadcast_id, sorted(targets), whole=own is None
            )
        total.update(sizes)
        reached.update(hits)
    by_hamlet: dict[int, list[int]] = {}
    by_kind: Counter[str] = Counter()
    hit_kind: Counter[str] = Counter()
    for (hamlet_id, kind), n in total.items():
        by_hamlet.setdefault(hamlet_id, [0, 0])[1] += n
        by_kind[kind] += n
    for (hamlet_id, kind), n in reached.items():
        by_hamlet.setdefault(hamlet_id, [0, 0])[0] += n
        hit_kind[kind] += n
    poor, near = HouseholdCategory.POOR, HouseholdCategory.NEAR_POOR
    rows = [
        (name, by_hamlet[h][0], by_hamlet[h][1])
        for h, name in names.items()
        if h in by_hamlet and by_hamlet[h][1]
    ]
    if len(rows) > shown:  # a chart of a thousand bars helps nobody: those to look at first
        kept = set(sorted(range(len(rows)), key=lambda i: rows[i][1] / rows[i][2])[:shown])
        more, rows = len(rows) - shown, [r for i, r in enumerate(rows) if i in kept]
    else:
        more = 0
    return RecentReach(
        firings=len(chosen),
        more=more,
        hamlets=rows,
        poor=(hit_kind[poor], by_kind[poor]),
        near_poor=(hit_kind[near], by_kind[near]),
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
    # Who got no 1:1 copy and why (broadcasts.reach_gaps); empty for a firing sent to groups only.
    "Người được gửi tin riêng",
    "Không được gửi tin riêng: quá 7 ngày chưa nhắn OA",
    "Không được gửi tin riêng: đã ngừng nhận",
    "Không được gửi tin riêng: đã bỏ quan tâm OA",
    "Hộ chưa có ai được gửi tin riêng",
    "Hộ chưa có ai liên kết Zalo",
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
        gaps = {g.hamlet_id: g.gaps for g in await firing_gaps(session, broadcast.id)}
        for row in await reach(session, broadcast.id):
            why = gaps.get(row.hamlet_id)
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
                    *(
                        [
                            why.one_to_one,
                            why.outside_window,
                            why.opted_out,
                            why.not_following,
                            why.households_without_copy,
                            why.households_off_zalo,
                        ]
                        if why
                        else [""] * 6
                    ),
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
