"""The scheduler tick: due times live in rows, so a restart loses nothing and fires nothing twice."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import VN_TZ
from bot.directory.models import AuditEntry, Commune, Hamlet, Staff
from bot.directory.roles import head_title
from bot.outbound.models import OutboxStatus
from bot.outbound.notices import notify_staff
from broadcasts.campaigns import Deps, sends_as_approved, spawn_firing
from broadcasts.delivery import (
    fan_out,
    finished,
    uncertain_summary,
    unsent_copies,
    unwritten_hamlets,
)
from broadcasts.models import (
    Broadcast,
    Campaign,
    CampaignCategory,
    HamletApproval,
    Status,
)
from broadcasts.reach_gaps import firing_gaps
from broadcasts.timing import (
    after_quiet_hours,
    format_local,
    in_quiet_hours,
    recurrence_from_rule,
)
from broadcasts.workflow import label, move

log = logging.getLogger(__name__)

GRACE = timedelta(
    hours=1
)  # a firing missed by downtime is still sent this late, then it is "bỏ lỡ"


async def tick(sessions: async_sessionmaker[AsyncSession], deps: Deps, now: datetime) -> int:
    """One pass: approval deadlines, due firings, finished firings; each firing in its own transaction."""
    done = 0
    async with sessions() as session:
        ids = (
            await session.scalars(
                select(Broadcast.id)
                .where(Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED, Status.SENDING]))
                .order_by(Broadcast.fire_at)
            )
        ).all()
    for ident in ids:
        async with sessions() as session:
            broadcast = await session.get(Broadcast, ident)
            assert broadcast is not None
            if await _step(session, broadcast, deps, now):
                done += 1
            await session.commit()
            resume = broadcast.status == Status.SENDING and (
                not broadcast.fanned_out
                or (
                    await _unwritten(session, broadcast)
                    and not await _held(session, broadcast, now)
                )
            )
        # Just started, a crash interrupted the fan-out, or a hamlet was approved since: it picks
        # up where it stopped.
        if resume:
            await fan_out(sessions, ident, deps, now)
    return done


def release_time(broadcast: Broadcast, campaign: Campaign) -> datetime:
    """The latest the firing may rightly still be waiting: its send time (or, for a post sent
    "now", its heads' deadline), moved past quiet hours unless urgent. Later than this plus
    GRACE, only downtime explains it: the firing is bỏ lỡ."""
    wait = max(broadcast.fire_at, broadcast.approval_deadline)
    if campaign.category == CampaignCategory.URGENT:
        return wait
    return after_quiet_hours(wait)


async def _step(session: AsyncSession, broadcast: Broadcast, deps: Deps, now: datetime) -> bool:
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    if (
        broadcast.status in (Status.AWAITING, Status.SENDING)
        and not broadcast.deadline_notified
        and now >= broadcast.approval_deadline
    ):
        await _deadline_passed(session, broadcast, campaign, deps, now)
    if broadcast.status == Status.SENDING:
        # A post sent "now" goes to each hamlet as its head approves: the firing stays open for
        # the others until their deadline, and only then can it finish.
        if now >= broadcast.approval_deadline:
            await _miss_undecided(session, broadcast, now)
        elif await _any_in(session, broadcast, Status.AWAITING):
            return False
        return (
            broadcast.fanned_out
            and not await _unwritten(session, broadcast)
            and await _finish(session, broadcast, campaign, deps, now)
        )
    if now < broadcast.fire_at:
        return False
    latest = release_time(broadcast, campaign) + GRACE
    if campaign.category != CampaignCategory.URGENT and in_quiet_hours(latest):
        latest = after_quiet_hours(latest) + GRACE  # the night held it, not downtime
    if now > latest:
        move(session, broadcast, Status.MISSED, now, note="quá hạn gửi sau khi hệ thống ngừng")
        skipped = await _next_firing(session, campaign, broadcast, deps, now)
        await _tell_missed(
            session, campaign, [broadcast.fire_at, *skipped], deps, now, f"bc:{broadcast.id}:missed"
        )
        return True
    urgent = campaign.category == CampaignCategory.URGENT
    if not urgent and in_quiet_hours(now):
        return False  # quiet hours hold non-urgent sends until 06:00
    if (
        broadcast.status == Status.AWAITING
        and now < broadcast.approval_deadline
        and not await _any_in(session, broadcast, Status.APPROVED)
    ):
        return False  # sent "now": nobody has approved yet, and the heads still have time
    if now >= broadcast.approval_deadline:
        await _miss_undecided(session, broadcast, now)
    move(session, broadcast, Status.SENDING, now)
    broadcast.started_at = now
    move(session, campaign, Status.SENDING, now)
    await _next_firing(
        session, campaign, broadcast, deps, now
    )  # within the grace window: none skipped
    return True


async def _miss_undecided(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    for approval in (
        await session.scalars(
            select(HamletApproval).where(
                HamletApproval.broadcast_id == broadcast.id,
                HamletApproval.status == Status.AWAITING,
            )
        )
    ).all():
        move(session, approval, Status.MISSED, now, note="chưa được duyệt đến hạn")


async def _any_in(session: AsyncSession, broadcast: Broadcast, status: Status) -> bool:
    """Whether any hamlet's approval of the firing is in this status."""
    return (
        await session.scalar(
            select(HamletApproval.id)
            .where(HamletApproval.broadcast_id == broadcast.id, HamletApproval.status == status)
            .limit(1)
        )
    ) is not None


async def _held(session: AsyncSession, broadcast: Broadcast, now: datetime) -> bool:
    """Quiet hours hold a hamlet approved late, as they hold any send that is not urgent."""
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    return campaign.category != CampaignCategory.URGENT and in_quiet_hours(now)


async def _unwritten(session: AsyncSession, broadcast: Broadcast) -> bool:
    return (await session.scalar(unwritten_hamlets(broadcast.id).limit(1))) is not None


async def _next_firing(
    session: AsyncSession, campaign: Campaign, broadcast: Broadcast, deps: Deps, now: datetime
) -> list[datetime]:
    """A recurring campaign spawns its next firing; a one-off has none. Returns the times skipped."""
    nxt = None
    skipped: list[datetime] = []

    def ended(at: datetime) -> bool:
        return campaign.ends_on is not None and at.astimezone(VN_TZ).date() > campaign.ends_on

    if campaign.recurrence:
        rule = recurrence_from_rule(campaign.recurrence)
        nxt = rule.next_after(broadcast.fire_at)
        # Downtime went past whole periods: they are not queued (nobody wants a week of notices at
        # once), only reported.
        while nxt is not None and now - nxt > GRACE and not ended(nxt):
            skipped.append(nxt)
            nxt = rule.next_after(nxt)
        if nxt is not None and ended(nxt):
            nxt = None
    campaign.next_fire_at = nxt
    if nxt is not None:
        await spawn_firing(session, campaign, deps, now)
    return skipped


async def _tell_missed(
    session: AsyncSession,
    campaign: Campaign,
    missed: list[datetime],
    deps: Deps,
    now: datetime,
    key: str,
) -> None:
    """Tell the author which firings went by while the service was down."""
    author = await session.get(Staff, campaign.author_staff_id)
    if author is None:
        return
    text = deps.replies.render(
        "broadcast_missed",
        title=campaign.title,
        when=format_local(missed[0]),
        more=len(missed) - 1,
        last=format_local(missed[-1]),
    )
    await notify_staff(session, now, author, text, key=key)


async def _deadline_passed(
    session: AsyncSession, broadcast: Broadcast, campaign: Campaign, deps: Deps, now: datetime
) -> None:
    broadcast.deadline_notified = True
    waiting = (
        await session.scalars(
            select(Hamlet.name)
            .join(HamletApproval, HamletApproval.hamlet_id == Hamlet.id)
            .where(
                HamletApproval.broadcast_id == broadcast.id,
                HamletApproval.status == Status.AWAITING,
            )
        )
    ).all()
    author = await session.get(Staff, campaign.author_staff_id)
    if waiting and author is not None:
        commune = await session.get(Commune, author.commune_id)
        text = deps.replies.render(
            "approval_deadline_notice",
            head=head_title(commune.hamlet_word if commune else "ấp"),
            title=campaign.title,
            when=format_local(broadcast.fire_at),
            hamlets=", ".join(waiting),
            closed=sends_as_approved(broadcast),  # a post sent "now": too late to remind anyone
        )
        await notify_staff(session, now, author, text, key=f"bc:{broadcast.id}:deadline")


async def _finish(
    session: AsyncSession, broadcast: Broadcast, campaign: Campaign, deps: Deps, now: datetime
) -> bool:
    result = await finished(session, broadcast)
    if result is None:
        return False
    sent, failed, total = result
    to = Status.SENT if sent or not total else Status.FAILED
    move(session, broadcast, to, now, note=f"{sent}/{total} đã gửi, {failed} lỗi")
    broadcast.finished_at = now
    if campaign.next_fire_at is None and campaign.status == Status.SENDING:
        move(session, campaign, to, now)
    elif campaign.status == Status.SENDING:
        move(session, campaign, Status.SCHEDULED if campaign.next_fire_at else to, now)
    author = await session.get(Staff, campaign.author_staff_id)
    if author is not None:
        rejected = (
            await session.scalars(
                select(Hamlet.name)
                .join(HamletApproval, HamletApproval.hamlet_id == Hamlet.id)
                .where(
                    HamletApproval.broadcast_id == broadcast.id,
                    HamletApproval.status.in_([Status.REJECTED, Status.MISSED]),
                )
            )
        ).all()
        unsent = await unsent_copies(session, broadcast.id)
        unsure = sum(1 for c in unsent if c.status == OutboxStatus.UNCERTAIN)
        summary = f"{sent}/{total} tin đã gửi, {failed - unsure} tin lỗi ({label(to)})."
        if rejected:
            summary += f" Không gửi ở: {', '.join(rejected)} (từ chối hoặc chưa duyệt)."
        summary += uncertain_summary(unsent, broadcast.id)
        gaps = await firing_gaps(session, broadcast.id)
        if any(g.gaps.without_copy or g.gaps.households_without_copy for g in gaps):
            summary += "\nAi chưa được gửi tin riêng, và vì sao:\n" + "\n".join(
                g.words() for g in gaps
            )
        text = deps.replies.render(
            "broadcast_report",
            title=campaign.title,
            when=format_local(broadcast.fire_at),
            code=broadcast.code,
            summary=summary,
        )
        # A firing finishes again after copies are resent or confirmed: each finish, its report.
        finishes = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.entity == "broadcast",
                AuditEntry.entity_id == broadcast.id,
                AuditEntry.to_status.in_([Status.SENT, Status.FAILED]),
            )
        )
        key = f"bc:{broadcast.id}:report" + (f":{finishes}" if finishes and finishes > 1 else "")
        await notify_staff(session, now, author, text, key=key)
    return True
