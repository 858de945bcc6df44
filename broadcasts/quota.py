"""The quota plan an official reads before a campaign is sent for approval.

How many Zalo calls the first firing will take (one per hamlet group, one per resident Zalo lets us
write to then), when its fan-out will finish at the configured rate, and what else is queued
around that time. It is an estimate: it assumes every hamlet approves, and it counts residents by
their last message to the OA as of now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet
from bot.outbound.models import OutboundMessage, OutboxStatus
from broadcasts.delivery import reachable_residents
from broadcasts.models import Broadcast, Campaign, Status

AROUND = timedelta(hours=1)  # other firings this close to ours share the queue with it


@dataclass(frozen=True)
class HamletPlan:
    """One hamlet's share of a firing."""

    hamlet: str
    group: bool  # a post in the hamlet's Zalo group
    residents: int  # 1:1 copies Zalo allows
    not_1to1: (
        int  # residents Zalo will not let us write to 1:1: the group post (if any) is all they get
    )


@dataclass(frozen=True)
class OtherFiring:
    """Another campaign's firing near ours, and the calls it will take."""

    title: str
    fire_at: datetime
    calls: int


@dataclass(frozen=True)
class QuotaPlan:
    """The first firing's Zalo calls, the fan-out's end at the configured rate, and the queue then."""

    fire_at: datetime
    hamlets: list[HamletPlan]
    rate_per_minute: int
    pending_now: int  # copies already waiting in the outbox
    others: list[OtherFiring]

    @property
    def calls(self) -> int:
        """Zalo calls the firing takes if every hamlet approves."""
        return sum(h.residents + h.group for h in self.hamlets)

    @property
    def ahead(self) -> int:
        """Calls queued before ours: what waits now, and the firings due shortly before."""
        return self.pending_now + sum(o.calls for o in self.others if o.fire_at <= self.fire_at)

    @property
    def minutes(self) -> int:
        """Minutes from the send time until the last copy has left, at the configured rate."""
        return math.ceil((self.ahead + self.calls) / self.rate_per_minute)

    @property
    def finish(self) -> datetime:
        """When the fan-out's last copy is expected to leave."""
        return self.fire_at + timedelta(minutes=self.minutes)


async def _hamlet_plans(
    session: AsyncSession,
    hamlets: list[Hamlet],
    household_categories: list[str],
    channels: list[str],
    at: datetime,
) -> list[HamletPlan]:
    ids = [h.id for h in hamlets]
    reachable: dict[int, int] = {}
    followers: dict[int, int] = {}
    if ids:
        for counts, when in ((reachable, at), (followers, None)):
            sub = reachable_residents(ids, household_categories, when).subquery()
            rows = await session.execute(
                select(sub.c.hamlet_id, func.count()).group_by(sub.c.hamlet_id)
            )
            counts.update({int(h): int(n) for h, n in rows.all()})
    if "resident" not in channels:
        reachable = {}
    group_channel = "group" in channels and not household_categories
    return [
        HamletPlan(
            hamlet=h.name,
            group=bool(group_channel and h.group_id),
            residents=int(reachable.get(h.id, 0)),
            not_1to1=max(0, int(followers.get(h.id, 0)) - int(reachable.get(h.id, 0))),
        )
        for h in hamlets
    ]


async def plan_firing(
    session: AsyncSession,
    hamlets: list[Hamlet],
    household_categories: list[str],
    channels: list[str],
    fire_at: datetime,
    rate_per_minute: int,
    *,
    campaign_id: int | None = None,
) -> QuotaPlan:
    """The quota plan of one firing to these hamlets at `fire_at`."""
    plans = await _hamlet_plans(session, hamlets, household_categories, channels, fire_at)
    pending_now = int(
        await session.scalar(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.status == OutboxStatus.PENDING)
        )
        or 0
    )
    near = (
        await session.execute(
            select(Broadcast, Campaign)
            .join(Campaign, Campaign.id == Broadcast.campaign_id)
            .where(
                Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED]),
                Broadcast.fanned_out.is_(False),
                Broadcast.test_only.is_(False),
                Broadcast.fire_at >= fire_at - AROUND,
                Broadcast.fire_at <= fire_at + AROUND,
                Campaign.id != (campaign_id or 0),
            )
            .order_by(Broadcast.fire_at)
        )
    ).all()
    others = []
    for broadcast, campaign in near:
        targets = list(
            (await session.scalars(select(Hamlet).where(Hamlet.id.in_(campaign.hamlet_ids)))).all()
        )
        theirs = await _hamlet_plans(
            session, targets, campaign.household_categories, campaign.channels, broadcast.fire_at
        )
        calls = sum(p.residents + p.group for p in theirs)
        others.append(OtherFiring(campaign.title, broadcast.fire_at, calls))
    return QuotaPlan(fire_at, plans, rate_per_minute, pending_now, others)
