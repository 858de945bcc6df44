"""Fan-out: a firing becomes outbox rows, one per hamlet group and per reachable resident, before any send."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole
from bot.directory.people import CS_WINDOW, may_follow
from bot.outbound.channels import Channel
from bot.outbound.models import NOT_SENT, OutboundMessage, OutboxStatus
from bot.outbound.notices import notify_staff
from bot.outbound.outbox import outbound_row
from bot.outbound.replies import Replies
from broadcasts.campaigns import Deps, render_for
from broadcasts.models import (
    Broadcast,
    Campaign,
    Delivery,
    HamletApproval,
    Household,
    HouseholdMember,
    Status,
)
from broadcasts.reach_gaps import count_gaps

LINK_PATH = "/l/"


def new_link_token() -> str:
    """A short unguessable token for a tracked link."""
    return secrets.token_urlsafe(8)[:11]


async def fan_out(
    sessions: async_sessionmaker[AsyncSession],
    broadcast_id: int,
    deps: Deps,
    now: datetime,
    *,
    chunk: int = 500,
) -> int:
    """Write every delivery of a firing that is sending, a chunk per transaction; returns rows written.

    Each row is committed before its copy can leave. A crash part-way leaves whole chunks behind;
    running again skips the targets already written, so nothing is queued twice, and memory stays
    flat however many residents there are. Only approved hamlets not yet written are visited, each
    marked when done: a hamlet approved after the firing started is written by the next run.
    """
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        campaign = await session.get(Campaign, broadcast.campaign_id)
        assert campaign is not None
        approved = list((await session.scalars(unwritten_hamlets(broadcast.id))).all())
    written = 0
    for hamlet_id in approved:
        async with sessions() as session:
            broadcast, campaign, hamlet, commune = await _load(session, broadcast_id, hamlet_id)
            if (
                "group" in campaign.channels
                and not campaign.household_categories
                and hamlet.group_id
            ):
                written += await _add_missing(
                    session,
                    deps,
                    campaign,
                    broadcast,
                    hamlet,
                    commune,
                    "group",
                    [(hamlet.group_id, None)],
                    now,
                    _HamletText(deps, campaign, broadcast, hamlet, commune),
                )
            await session.commit()
        last_id = 0
        texts: _HamletText | None = None  # rendered once per hamlet, not once per resident
        while "resident" in campaign.channels:
            async with sessions() as session:
                broadcast, campaign, hamlet, commune = await _load(session, broadcast_id, hamlet_id)
                batch = await _recipients(
                    session, campaign, hamlet, now, after_id=last_id, limit=chunk
                )
                if not batch:
                    break
                last_id = batch[-1].id
                texts = texts or _HamletText(deps, campaign, broadcast, hamlet, commune)
                written += await _add_missing(
                    session,
                    deps,
                    campaign,
                    broadcast,
                    hamlet,
                    commune,
                    "resident",
                    [(r.zalo_user_id, r.id) for r in batch],
                    now,
                    texts,
                )
                await session.commit()
        async with sessions() as session:
            broadcast, campaign, hamlet, _ = await _load(session, broadcast_id, hamlet_id)
            if campaign.household_categories:
                await _offline_list(session, deps, campaign, broadcast, hamlet, now)
            gaps = None
            if "resident" in campaign.channels:
                await session.flush()
                gaps = (await count_gaps(session, broadcast_id, campaign, hamlet_id, now)).as_json()
            # In the offline list's transaction: a crash before it redoes the hamlet, after it
            # never sends the head the list twice.
            await session.execute(
                update(HamletApproval)
                .where(
                    HamletApproval.broadcast_id == broadcast_id,
                    HamletApproval.hamlet_id == hamlet_id,
                )
                .values(fanned_out_at=now, reach_gaps=gaps)
            )
            await session.commit()
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        broadcast.fanned_out = True
        await session.commit()
    return written


def in_states(*states: OutboxStatus) -> ColumnElement[bool]:
    """Outbox rows in these states, the states written into the SQL: bound as parameters,
    PostgreSQL's generic plan cannot tell rare states from "sent" and reads the whole table."""
    values = [str(s) for s in states]
    return OutboundMessage.status.in_(
        bindparam("states", values, expanding=True, literal_execute=True)
    )


def unwritten_hamlets(broadcast_id: int) -> Select[int]:
    """The approved hamlets of a firing whose copies are not all written yet."""
    return select(HamletApproval.hamlet_id).where(
        HamletApproval.broadcast_id == broadcast_id,
        HamletApproval.status == Status.APPROVED,
        HamletApproval.fanned_out_at.is_(None),
    )


async def _load(
    session: AsyncSession, broadcast_id: int, hamlet_id: int
) -> tuple[Broadcast, Campaign, Hamlet, Commune]:
    broadcast = await session.get(Broadcast, broadcast_id)
    assert broadcast is not None
    campaign = await session.get(Campaign, broadcast.campaign_id)
    hamlet = await session.get(Hamlet, hamlet_id)
    commune = await session.get(Commune, hamlet.commune_id) if hamlet else None
    assert campaign is not None and hamlet is not None and commune is not None
    return broadcast, campaign, hamlet, commune


async def _add_missing(
    session: AsyncSession,
    deps: Deps,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    commune: Commune,
    kind: str,
    targets: list[tuple[str, int | None]],
    now: datetime,
    texts: _HamletText,
) -> int:
    present = set(
        (
            await session.scalars(
                select(Delivery.target_id).where(
                    Delivery.broadcast_id == broadcast.id,
                    Delivery.kind == kind,
                    Delivery.target_id.in_([t for t, _ in targets]),
                )
            )
        ).all()
    )
    missing = [(target, resident_id) for target, resident_id in targets if target not in present]
    if not missing:
        return 0
    # Two statements per chunk, not an object per row: a broadcast to 100,000 residents is 200,000
    # rows, and the unit of work's bookkeeping for each of them would be most of the fan-out's time.
    tokens = [new_link_token() for _ in missing]
    outbound = [
        outbound_row(
            key=f"bc:{broadcast.id}:{kind}:{target}",
            channel=Channel.GROUP if kind == "group" else "cs",
            recipient_id=target,
            text=texts.text(token),
            purpose="broadcast",
            now=now,
            priority=False,
        )
        for (target, _), token in zip(missing, tokens, strict=True)
    ]
    outbound_table, delivery_table = (
        cast(Table, OutboundMessage.__table__),
        cast(Table, Delivery.__table__),
    )
    returned = await session.execute(
        insert(outbound_table).returning(outbound_table.c.key, outbound_table.c.id), outbound
    )
    ids = {str(key): int(ident) for key, ident in returned.all()}
    await session.execute(
        insert(delivery_table),
        [
            {
                "broadcast_id": broadcast.id,
                "hamlet_id": hamlet.id,
                "kind": kind,
                "target_id": target,
                "resident_id": resident_id,
                "outbound_id": ids[row["key"]],
                "link_token": token,
                "created_at": now,
            }
            for (target, resident_id), token, row in zip(missing, tokens, outbound, strict=True)
        ],
    )
    return len(missing)


class _HamletText:
    """A hamlet's announcement rendered once, with a stand-in link each copy's own link replaces."""

    def __init__(
        self, deps: Deps, campaign: Campaign, broadcast: Broadcast, hamlet: Hamlet, commune: Commune
    ) -> None:
        self._render: Callable[[str], str] = lambda link: render_for(
            deps, campaign, broadcast, hamlet, commune, link=link
        )
        self._prefix = deps.base_url + LINK_PATH
        self._stand_in = self._prefix + new_link_token()  # random, of a real token's length
        self._text = self._render(self._stand_in)
        self._substitutable = self._text.count(self._stand_in) == 1

    def text(self, token: str) -> str:
        """The text with `token`'s link, exactly as rendering it afresh would give."""
        if self._substitutable:
            return self._text.replace(self._stand_in, self._prefix + token)
        return self._render(self._prefix + token)


def reachable_residents(
    hamlet_ids: list[int],
    household_categories: list[str],
    at: datetime | None,
) -> Select[Any]:
    """Residents of the hamlets Zalo lets us reach 1:1 at `at` (any time, when None), not opted
    out, in the targeted household groups (all, when none are named)."""
    query = select(Resident).where(
        Resident.hamlet_id.in_(hamlet_ids), may_follow(), Resident.opted_out.is_(False)
    )
    if at is not None:
        query = query.where(Resident.last_interaction_at > at - CS_WINDOW)
    if household_categories:
        query = (
            query.join(HouseholdMember, HouseholdMember.resident_id == Resident.id)
            .join(Household, Household.id == HouseholdMember.household_id)
            .where(Household.category.in_(household_categories))
        )
    return query


async def _recipients(
    session: AsyncSession,
    campaign: Campaign,
    hamlet: Hamlet,
    now: datetime,
    *,
    after_id: int,
    limit: int,
) -> list[Resident]:
    """The next residents (by id) a firing writes to 1:1, in this hamlet."""
    query = reachable_residents([hamlet.id], campaign.household_categories, now)
    query = query.where(Resident.id > after_id).order_by(Resident.id).limit(limit)
    return list((await session.scalars(query)).all())


async def offline_households(
    session: AsyncSession, broadcast: Broadcast, campaign: Campaign, hamlet: Hamlet
) -> list[Household]:
    """Targeted households of the hamlet that no 1:1 copy of the firing can reach."""
    reached = (
        select(HouseholdMember.household_id)
        .join(Delivery, Delivery.resident_id == HouseholdMember.resident_id)
        .where(Delivery.broadcast_id == broadcast.id)
    )
    return list(
        (
            await session.scalars(
                select(Household)
                .where(
                    Household.hamlet_id == hamlet.id,
                    Household.category.in_(campaign.household_categories),
                )
                .where(Household.id.not_in(reached))
                .order_by(Household.code)
            )
        ).all()
    )


def offline_text(
    replies: Replies,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    households: list[Household],
) -> str:
    """The head's list of households to tell in person."""
    lines = [
        f"{h.head_name} ({h.code}){', ' + h.address if h.address else ''}" for h in households
    ][:60]
    return replies.render(
        "offline_list",
        title=campaign.title,
        code=broadcast.code,
        hamlet=hamlet.name,
        households=lines,
    )


async def _offline_list(
    session: AsyncSession,
    deps: Deps,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    now: datetime,
) -> None:
    """Tell the head which targeted households Zalo cannot reach, to be told in person.

    The list names poor and near-poor households, so it goes 1:1 only; a head Zalo will not let us
    write to is asked, in the commune group and without names, to message the OA for it."""
    await session.flush()
    households = await offline_households(session, broadcast, campaign, hamlet)
    head = await session.scalar(
        select(Staff).where(
            Staff.hamlet_id == hamlet.id,
            Staff.role == StaffRole.HAMLET_HEAD,
            Staff.active.is_(True),
        )
    )
    if not households or head is None:
        return
    await notify_staff(
        session,
        now,
        head,
        offline_text(deps.replies, campaign, broadcast, hamlet, households),
        key=f"bc:{broadcast.id}:offline:{hamlet.id}",
        # In the group: no names, only how many households; the head asks the OA for the list.
        in_group=lambda tag: deps.replies.render(
            "offline_list_ask",
            mention=tag,
            count=len(households),
            hamlet=hamlet.name,
            title=campaign.title,
        ),
    )


async def finished(session: AsyncSession, broadcast: Broadcast) -> tuple[int, int, int] | None:
    """(sent, failed, total) once no delivery of the firing is still on its way; None before that."""
    rows = (
        await session.execute(
            select(OutboundMessage.status, func.count())
            .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
            .where(Delivery.broadcast_id == broadcast.id)
            .group_by(OutboundMessage.status)
        )
    ).all()
    counts = {status: n for status, n in rows}
    if counts.get(OutboxStatus.PENDING) or counts.get(OutboxStatus.SENDING):
        return None
    total = sum(counts.values())
    return counts.get(OutboxStatus.SENT, 0), total - counts.get(OutboxStatus.SENT, 0), total


@dataclass(frozen=True)
class UnsentCopy:
    """A copy of a firing that failed or whose arrival is unknown, named as a person checks it."""

    hamlet: str
    recipient: str  # "nhóm Zalo" or the resident's name
    status: str  # OutboxStatus.FAILED or OutboxStatus.UNCERTAIN
    reason: str


async def unsent_copies(session: AsyncSession, broadcast_id: int) -> list[UnsentCopy]:
    """The firing's copies that failed or are uncertain, by hamlet, groups before residents."""
    # Found from the few rows in those states (an index on status), then kept if they are this
    # firing's: the other way round reads every copy of a firing to 100,000 residents.
    unsent = select(OutboundMessage.id).where(
        in_states(OutboxStatus.FAILED, OutboxStatus.UNCERTAIN),
        OutboundMessage.purpose == "broadcast",
    )
    ids = list((await session.scalars(unsent)).all())
    rows: list[Any] = []
    for start in range(0, len(ids), 5000):
        rows += (
            await session.execute(
                select(Hamlet.name, Delivery.kind, Resident.display_name, OutboundMessage)
                .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
                .join(Hamlet, Hamlet.id == Delivery.hamlet_id)
                .outerjoin(Resident, Resident.id == Delivery.resident_id)
                .where(
                    Delivery.broadcast_id == broadcast_id,
                    Delivery.outbound_id.in_(ids[start : start + 5000]),
                )
            )
        ).all()
    rows.sort(key=lambda r: (r[0], r[1], r[2] or ""))
    return [
        UnsentCopy(
            hamlet,
            "nhóm Zalo" if kind == "group" else (name or "cư dân (đã xoá dữ liệu)"),
            row.status,
            row.error_reason or "",
        )
        for hamlet, kind, name, row in rows
    ]


OPEN_COUNTED = 20_000  # copies not (yet) sent, across firings, counted from the status index

COPY_STATES = (
    (OutboxStatus.SENT, "đã gửi"),
    (OutboxStatus.FAILED, "gửi lỗi"),
    (OutboxStatus.UNCERTAIN, "chưa rõ đã đến"),
    (OutboxStatus.PENDING, "chờ gửi"),
    (OutboxStatus.SENDING, "đang gửi"),
    (OutboxStatus.CANCELLED, "đã huỷ"),
)


async def copies_line(
    session: AsyncSession, broadcast_id: int, *, open_counted: int = OPEN_COUNTED
) -> str | None:
    """ "Tin: 1.200 đã gửi, 3 gửi lỗi, …": a firing's copies by state; None before fan-out."""
    total = int(
        await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.broadcast_id == broadcast_id)
        )
        or 0
    )
    # Once a firing has gone, few of its copies are in any state but sent: count those from the
    # status index and take the rest as sent, instead of reading every copy's row.
    open_ids = list(
        (
            await session.scalars(
                select(OutboundMessage.id)
                .where(
                    NOT_SENT,  # written as the partial index ix_outbound_open is, so it is used
                    OutboundMessage.purpose == "broadcast",
                )
                .limit(open_counted + 1)
            )
        ).all()
    )
    counts: dict[str, int] = {}
    if len(open_ids) > open_counted:  # a big send is under way: count its rows directly
        counts = dict(
            (
                await session.execute(
                    select(OutboundMessage.status, func.count())
                    .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
                    .where(Delivery.broadcast_id == broadcast_id)
                    .group_by(OutboundMessage.status)
                )
            ).all()
        )
    elif total:
        for start in range(0, len(open_ids), 5000):
            for status, n in (
                await session.execute(
                    select(OutboundMessage.status, func.count())
                    .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
                    .where(
                        Delivery.broadcast_id == broadcast_id,
                        OutboundMessage.id.in_(open_ids[start : start + 5000]),
                    )
                    .group_by(OutboundMessage.status)
                )
            ).all():
                counts[status] = counts.get(status, 0) + int(n)
        counts[OutboxStatus.SENT] = total - sum(counts.values())
    if not counts:
        return None
    shown = [
        f"{counts[s]:,}".replace(",", ".") + f" {word}" for s, word in COPY_STATES if counts.get(s)
    ]
    return "Tin: " + ", ".join(shown)


def uncertain_summary(copies: list[UnsentCopy], broadcast_id: int) -> str:
    """What the author reads about copies nobody can tell arrived, and the one action after checking."""
    uncertain = [c for c in copies if c.status == OutboxStatus.UNCERTAIN]
    if not uncertain:
        return ""
    where = "; ".join(f"{c.hamlet}: {c.recipient}" for c in uncertain)
    return (
        f" Có {len(uncertain)} tin chưa rõ đã đến hay chưa, anh/chị xem lại trong Zalo: {where}. "
        f"Nơi nào chưa thấy tin thì gửi lại: loa campaign resend {broadcast_id} --hamlet TÊN; "
        f"nơi đã thấy: loa campaign seen {broadcast_id} --hamlet TÊN."
    )


def unsent_lines(copies: list[UnsentCopy], broadcast_id: int) -> list[str]:
    """`loa campaign show`'s lines on copies not surely sent: failures counted by reason, uncertain named."""
    lines = []
    failed: dict[str, int] = {}
    for copy in copies:
        if copy.status == OutboxStatus.FAILED:
            failed[copy.reason] = failed.get(copy.reason, 0) + 1
    for reason, count in sorted(failed.items(), key=lambda item: -item[1]):
        lines.append(f"Tin lỗi: {count} — {reason or 'Zalo từ chối gửi tin'}")
    if failed:
        lines.append(f"Gửi lại tin lỗi: loa campaign retry {broadcast_id}")
    uncertain = [c for c in copies if c.status == OutboxStatus.UNCERTAIN]
    for copy in uncertain:
        lines.append(f"Chưa rõ đã đến: {copy.hamlet}, {copy.recipient} — {copy.reason}")
    if uncertain:
        lines.append(
            f"Xem lại trong Zalo. Chưa thấy tin: loa campaign resend {broadcast_id} --hamlet TÊN; "
            f"đã thấy: loa campaign seen {broadcast_id} --hamlet TÊN"
        )
    return lines


async def commune_of(session: AsyncSession, broadcast: Broadcast) -> Commune:
    """The commune a firing belongs to."""
    campaign = await session.get(Campaign, broadcast.campaign_id)
    assert campaign is not None
    commune = await session.get(Commune, campaign.commune_id)
    assert commune is not None
    return commune
