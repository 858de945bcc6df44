"""The hamlets on the desk: the list, and one hamlet's page (its people, households, group, firings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet, Resident, Staff, StaffRole
from bot.directory.roles import Action, can, territory
from bot.directory.staffing import StaffError
from bot.keys import RUNTIME
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.handover import current_heads, hand_over_hamlet
from broadcasts.models import Broadcast, Campaign, HamletApproval, Household, HouseholdCategory
from broadcasts.timing import format_local
from broadcasts.web.reach import households_path
from broadcasts.workflow import label

PATH = "/admin/hamlets"
WINDOW = timedelta(days=7)  # Zalo lets the OA write 1:1 to those who wrote within it


@dataclass
class HamletFigures:
    """What a hamlet's page and the list show of it."""

    hamlet: Hamlet
    head: str | None
    residents: int
    in_window: int
    households: dict[str, int]


async def figures(session: AsyncSession, hamlet: Hamlet, since: datetime) -> HamletFigures:
    """Counts for one hamlet: its head, its residents (and those Zalo lets us reach), its households."""
    head = await session.scalar(
        select(Staff.name).where(
            Staff.hamlet_id == hamlet.id,
            Staff.role == StaffRole.HAMLET_HEAD,
            Staff.active.is_(True),
        )
    )
    residents = await session.scalar(
        select(func.count()).select_from(Resident).where(Resident.hamlet_id == hamlet.id)
    )
    in_window = await session.scalar(
        select(func.count())
        .select_from(Resident)
        .where(Resident.hamlet_id == hamlet.id, Resident.last_interaction_at >= since)
    )
    by_category = dict(
        (
            await session.execute(
                select(Household.category, func.count())
                .where(Household.hamlet_id == hamlet.id)
                .group_by(Household.category)
            )
        ).all()
    )
    households = {c.value: int(by_category.get(c.value, 0)) for c in HouseholdCategory}
    return HamletFigures(hamlet, head, int(residents or 0), int(in_window or 0), households)


@desk_page
async def hamlet_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/hamlets: the commune's hamlets (a head's own only)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    own = territory(staff)
    async with rt.sessions() as session:
        query = select(Hamlet).where(Hamlet.commune_id == staff.commune_id).order_by(Hamlet.name)
        if own is not None:
            query = query.where(Hamlet.id == own)
        since = rt.clock.now() - WINDOW
        rows = [await figures(session, h, since) for h in (await session.scalars(query)).all()]
    title = f"Các {desk_of(request).hamlet_word}"
    return render_desk(request, "hamlets.html", {"title": title, "rows": rows})


@desk_page
async def hamlet_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/hamlets/{id}: one hamlet, for whoever's territory holds it (404 for others)."""
    return await _hamlet_response(request)


async def _hamlet_response(
    request: web.Request,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    hamlet_id = int(request.match_info["id"])
    async with rt.sessions() as session:
        hamlet = await session.get(Hamlet, hamlet_id)
        if (
            hamlet is None
            or hamlet.commune_id != staff.commune_id
            or not can(staff, Action.SEE_HAMLET, hamlet_id)
        ):
            return await refuse(request, f"ấp {hamlet_id}")
        shown = await figures(session, hamlet, rt.clock.now() - WINDOW)
        firings = (
            await session.execute(
                select(HamletApproval, Broadcast, Campaign)
                .join(Broadcast, Broadcast.id == HamletApproval.broadcast_id)
                .join(Campaign, Campaign.id == Broadcast.campaign_id)
                .where(HamletApproval.hamlet_id == hamlet_id, Broadcast.test_only.is_(False))
                .order_by(Broadcast.fire_at.desc())
                .limit(10)
            )
        ).all()
    recent = [
        {
            "title": c.title,
            "fire_at": format_local(b.fire_at),
            "firing": label(b.status),
            "approval": label(a.status),
            "reason": a.reason,
            "households": households_path(b.id, hamlet_id) if b.started_at else "",
        }
        for a, b, c in firings
    ]
    may_see = can(staff, Action.SEE_HOUSEHOLDS, hamlet_id)
    done = request.query.get("done") == "handed_over"
    unlinked = None
    if done and request.query.get("who", "").isdigit() and can(staff, Action.MANAGE_STAFF):
        async with rt.sessions() as session:
            taker = await session.get(Staff, int(request.query["who"]))
        if (
            taker is not None
            and taker.commune_id == staff.commune_id
            and taker.active
            and not taker.zalo_user_id
        ):
            unlinked = taker
    return render_desk(
        request,
        "hamlet.html",
        {
            "title": hamlet.name,
            "f": shown,
            "recent": recent,
            "households_shown": may_see,
            "may_hand_over": can(staff, Action.MANAGE_STAFF),
            "typed": typed or {},
            "errors": errors or {},
            "done": "handed_over" if done else "",
            "unlinked": unlinked,
        },
        status=status,
    )


@desk_page
async def hand_over(request: web.Request) -> web.StreamResponse:
    """POST /admin/hamlets/{id}/handover: `name`, `phone`, `zalo_id` of the newly elected head."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    hamlet_id = int(request.match_info["id"])
    form = await request.post()
    typed = {k: str(form.get(k, ""))[:200] for k in ("name", "phone", "zalo_id", "confirm")}
    async with rt.sessions() as session:
        hamlet = await session.get(Hamlet, hamlet_id)
        if (
            hamlet is None
            or hamlet.commune_id != desk.commune.id
            or not can(desk.staff, Action.MANAGE_STAFF)
        ):
            return await refuse(request, f"giao ấp {hamlet_id}")
        sitting = await current_heads(session, hamlet.id)
        if sitting and typed["confirm"] != "1":
            names = ", ".join(s.name for s in sitting)
            problem = (
                f"Xin đánh dấu ô xác nhận: tài khoản của {names} sẽ bị khoá khi giao {hamlet.name}."
            )
            return await _hamlet_response(
                request, typed=typed, errors={"confirm": problem}, status=400
            )
        try:
            result = await hand_over_hamlet(
                session,
                desk.commune,
                hamlet,
                typed["name"],
                typed["phone"],
                typed["zalo_id"],
                desk.staff,
                rt.clock.now(),
            )
        except StaffError as exc:
            await session.rollback()
            return await _hamlet_response(request, typed=typed, errors=exc.problems, status=400)
        await session.commit()
    who = result.new_head.id
    raise web.HTTPSeeOther(f"{PATH}/{hamlet_id}?done=handed_over&who={who}")
