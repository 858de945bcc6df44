"""Residents on the desk: who has written to the OA, by hamlet, and whether Zalo lets us reach them.

For the digital-technology team and heads (their own hamlet) and the commune's staff: whether a
person follows the OA, when they last wrote (Zalo lets the OA write 1:1 for seven days after), if
they asked for no announcements, and their household (shown to those who may see households).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import false, func, select

from bot.directory.models import Resident, Staff
from bot.directory.roles import Action, can, role_label, territory
from bot.keys import RUNTIME
from bot.text import fold
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.models import Household, HouseholdMember
from broadcasts.timing import format_local
from broadcasts.web.households import PAGE_SIZE, hamlets_of, page_number

PATH = "/admin/residents"
WINDOW = timedelta(days=7)
STATES = {
    "reachable": "nhắn riêng được (đã nhắn OA trong 7 ngày)",
    "outside": "quá 7 ngày chưa nhắn OA",
    "no_household": "chưa liên kết với hộ nào",
    "opted_out": "không nhận thông báo",
}


@desk_page
async def resident_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/residents: `hamlet`, `q` (name), `state`, `page`."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    if not can(staff, Action.SEE_HAMLET):
        return await refuse(request, "danh sách người dân")
    own = territory(staff)
    typed_hamlet = request.query.get("hamlet", "")
    hamlet_id = own if own is not None else (int(typed_hamlet) if typed_hamlet.isdigit() else None)
    q = request.query.get("q", "").strip()[:100]
    state = request.query.get("state", "")
    page = page_number(request.query.get("page"))
    now = rt.clock.now()
    query = (
        select(Resident, HouseholdMember.household_id)
        .outerjoin(HouseholdMember, HouseholdMember.resident_id == Resident.id)
        .where(Resident.commune_id == staff.commune_id)
    )
    if hamlet_id is not None:
        query = query.where(Resident.hamlet_id == hamlet_id)
    if q:
        wanted = fold(q)  # nothing searchable in it ("_", "!!"): nothing found
        query = query.where(
            Resident.search_name.contains(wanted, autoescape=True) if wanted else false()
        )
    if state == "reachable":
        query = query.where(Resident.last_interaction_at > now - WINDOW)
    elif state == "outside":
        query = query.where(
            (Resident.last_interaction_at <= now - WINDOW) | Resident.last_interaction_at.is_(None)
        )
    elif state == "no_household":
        query = query.where(HouseholdMember.household_id.is_(None))
    elif state == "opted_out":
        query = query.where(Resident.opted_out.is_(True))
    may_households = can(staff, Action.SEE_HOUSEHOLDS)
    async with rt.sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        found = (
            await session.execute(
                query.order_by(Resident.display_name, Resident.id)
                .offset((page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            )
        ).all()
        household_ids = [h for _, h in found if h is not None]
        heads = (
            dict(
                (
                    await session.execute(
                        select(Household.id, Household.head_name).where(
                            Household.id.in_(household_ids)
                        )
                    )
                ).all()
            )
            if may_households and household_ids
            else {}
        )
        hamlets = await hamlets_of(session, staff.commune_id, own)
        # Staff write to the OA too; the list says who they are, so they are not counted as
        # households to reach.
        zalo_ids = [r.zalo_user_id for r, _ in found]
        roles = dict(
            (
                await session.execute(
                    select(Staff.zalo_user_id, Staff.role).where(
                        Staff.commune_id == staff.commune_id, Staff.zalo_user_id.in_(zalo_ids)
                    )
                )
            ).all()
        )
    names: dict[int, str] = {h.id: h.name for h in hamlets}
    rows = []
    for resident, household_id in found:
        last = resident.last_interaction_at
        rows.append(
            {
                "name": resident.display_name or "người dân",
                "staff_role": (
                    role_label(roles[resident.zalo_user_id], desk_of(request).hamlet_word)
                    if resident.zalo_user_id in roles
                    else ""
                ),
                "hamlet": names.get(resident.hamlet_id or 0, ""),
                "follows": resident.is_follower and resident.unfollowed_at is None,
                "unfollowed": resident.unfollowed_at is not None,
                "last": format_local(last) if last else "",
                "reachable": last is not None and now - last < WINDOW,
                "opted_out": resident.opted_out,
                "household": (household_id, heads.get(household_id, "")) if household_id else None,
            }
        )
    kept = {
        k: v
        for k, v in {"hamlet": typed_hamlet if own is None else "", "q": q, "state": state}.items()
        if v
    }
    return render_desk(
        request,
        "residents.html",
        {
            "title": "Người dân",
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "prev": urlencode({**kept, "page": page - 1}) if page > 1 else "",
            "next": urlencode({**kept, "page": page + 1}) if page * PAGE_SIZE < total else "",
            "hamlets": hamlets if own is None else [],
            "chosen": {"hamlet": str(hamlet_id or ""), "q": q, "state": state},
            "states": STATES,
            "may_households": may_households,
        },
    )
