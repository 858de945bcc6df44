"""Reach on the desk: one firing's households in one hamlet, offline records, and the exports.

The households page is what a head takes out to visit: who has not been reached yet, first. It
names households and their category, so only the commune's staff and that hamlet's own head see
it; a file of names goes to that head only, and the commune's exports carry counts alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet
from bot.directory.roles import Action, can
from bot.keys import RUNTIME
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts import actions
from broadcasts.campaigns import deps_for
from broadcasts.exports import CSV_TYPE, XLSX_TYPE, Cell, csv_bytes, xlsx_bytes
from broadcasts.models import Broadcast, Campaign
from broadcasts.timing import TimingError, format_local, parse_local_datetime
from broadcasts.tracking import (
    CSV_HEADER,
    OFFLINE_METHODS,
    HouseholdReach,
    household_reach,
    reach,
    reach_table,
)
from broadcasts.web.campaigns import commune_wide
from broadcasts.workflow import HOUSEHOLD_KINDS

PATH = "/admin/firings/{id}/hamlets/{hamlet}"
EXPORT_PATH = "/admin/reach"
HOUSEHOLD_HEADER = [
    "Mã hộ",
    "Chủ hộ",
    "Địa chỉ",
    "Điện thoại",
    "Nhóm hộ",
    "Đã tiếp cận",
    "Cách tiếp cận",
]
DEFAULT_SPAN = timedelta(days=30)


def households_path(broadcast_id: int, hamlet_id: int) -> str:
    """The address of a firing's households page for one hamlet."""
    return PATH.format(id=broadcast_id, hamlet=hamlet_id)


async def _firing_in_hamlet(
    request: web.Request, session: AsyncSession
) -> tuple[Broadcast, Campaign, Hamlet] | None:
    """The firing and hamlet in the URL, if the firing went to it and this person may see it."""
    staff = desk_of(request).staff
    broadcast = await session.get(Broadcast, int(request.match_info["id"]))
    hamlet = await session.get(Hamlet, int(request.match_info["hamlet"]))
    if broadcast is None or hamlet is None or broadcast.test_only:
        return None
    campaign = await session.get(Campaign, broadcast.campaign_id)
    if (
        campaign is None
        or campaign.commune_id != staff.commune_id
        or hamlet.id not in campaign.hamlet_ids
        or not can(staff, Action.SEE_HOUSEHOLDS, hamlet.id)
    ):
        return None
    return broadcast, campaign, hamlet


@desk_page
async def households_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/firings/{id}/hamlets/{hamlet}: the hamlet's households, not reached first."""
    return await _households_response(request)


async def _households_response(
    request: web.Request, *, problem: str = "", status: int = 200
) -> web.StreamResponse:
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    async with rt.sessions() as session:
        found = await _firing_in_hamlet(request, session)
        if found is None:
            return await refuse(request, f"hộ của lần gửi mã {request.match_info['id']}")
        broadcast, campaign, hamlet = found
        rows = await household_reach(session, broadcast.id, hamlet.id)
        summary = next(iter(await reach(session, broadcast.id, [hamlet.id])), None)
    only_missing = request.query.get("chua") == "1"
    done = request.query.get("done", "")
    return render_desk(
        request,
        "reach_households.html",
        {
            "title": f"{campaign.title} · {hamlet.name}",
            "campaign": campaign,
            "broadcast": broadcast,
            "hamlet": hamlet,
            "fire_at": format_local(broadcast.fire_at),
            "summary": summary,
            "rows": [r for r in rows if not (only_missing and r.reached)],
            "missing": sum(not r.reached for r in rows),
            "total": len(rows),
            "only_missing": only_missing,
            "kinds": HOUSEHOLD_KINDS,
            "methods": OFFLINE_METHODS,
            "sent": broadcast.started_at is not None,
            "may_record": can(staff, Action.RECORD_OFFLINE, hamlet.id),
            "may_export": can(staff, Action.EXPORT_HOUSEHOLDS, hamlet.id),
            "back": f"/admin/campaigns/{campaign.id}"
            if commune_wide(staff)
            else f"/admin/hamlets/{hamlet.id}",
            "done": done if done in {h.household.code for h in rows} else "",
            "problem": problem,
            "here": households_path(broadcast.id, hamlet.id),
        },
        status=status,
    )


@desk_page
async def record_offline(request: web.Request) -> web.StreamResponse:
    """POST …/offline: `household` (its code) was told by `method` (meeting, in person, loudspeaker)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    form = await request.post()
    code = str(form.get("household", "")).strip()[:64]
    method = str(form.get("method", ""))
    async with rt.sessions() as session:
        found = await _firing_in_hamlet(request, session)
        if found is None or not can(staff, Action.RECORD_OFFLINE, found[2].id):
            return await refuse(request, f"ghi nhận hộ của lần gửi mã {request.match_info['id']}")
        broadcast, _, hamlet = found
        codes = {r.household.code for r in await household_reach(session, broadcast.id, hamlet.id)}
        problem = ""
        if code not in codes:  # another hamlet's household is not recorded from this page
            problem = f"Không có hộ mã {code} trong {hamlet.name}."
        elif method not in OFFLINE_METHODS:
            problem = "Xin chọn cách đã báo cho hộ: họp, tận nhà hoặc loa."
        else:
            try:
                await actions.offline_reach(
                    session, broadcast.id, code, method, staff, rt.clock.now()
                )
            except actions.ActionError as exc:
                problem = str(exc)
        if problem:
            await session.rollback()
            return await _households_response(request, problem=problem, status=400)
        await session.commit()
    deps_for(rt).reach_cache.forget(broadcast.id)  # the commune's pages show the record at once
    query = urlencode({"done": code, **({"chua": "1"} if form.get("chua") == "1" else {})})
    raise web.HTTPSeeOther(f"{households_path(broadcast.id, hamlet.id)}?{query}")


def _household_cells(row: HouseholdReach) -> list[Cell]:
    h = row.household
    return [
        h.code,
        h.head_name,
        h.address or "",
        h.phone or "",
        HOUSEHOLD_KINDS.get(h.category, h.category),
        "có" if row.reached else "chưa",
        ", ".join(row.ways),
    ]


def _file(data: bytes, name: str, ext: str) -> web.Response:
    return web.Response(
        body=data,
        headers={
            "Content-Type": CSV_TYPE if ext == "csv" else XLSX_TYPE,
            "Content-Disposition": f'attachment; filename="{name}.{ext}"',
            "Cache-Control": "no-store",  # names of households: not kept by a shared machine's cache
        },
    )


@desk_page
async def households_file(request: web.Request) -> web.StreamResponse:
    """GET …/households.{csv,xlsx}: the hamlet's households and their reach, for its own head only."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    ext = request.match_info["ext"]
    async with rt.sessions() as session:
        found = await _firing_in_hamlet(request, session)
        if found is None or not can(staff, Action.EXPORT_HOUSEHOLDS, found[2].id):
            return await refuse(
                request, f"tải danh sách hộ của lần gửi mã {request.match_info['id']}"
            )
        broadcast, _, hamlet = found
        rows = [
            _household_cells(r) for r in await household_reach(session, broadcast.id, hamlet.id)
        ]
    name = f"ho-{hamlet.id}-lan-gui-{broadcast.id}"
    if ext == "csv":
        return _file(csv_bytes(HOUSEHOLD_HEADER, rows), name, ext)
    return _file(xlsx_bytes(HOUSEHOLD_HEADER, rows, "Hộ"), name, ext)


@desk_page
async def reach_file(request: web.Request) -> web.StreamResponse:
    """GET /admin/reach.{csv,xlsx}: counts per firing and hamlet (`firing`, or `from`/`to` dates)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    ext = request.match_info["ext"]
    if not commune_wide(staff):
        return await refuse(request, "tải số liệu tiếp cận")
    now = rt.clock.now()
    try:
        start = _day(request.query.get("from"), " 0h", now) or now - DEFAULT_SPAN
        end = _day(request.query.get("to"), " 23h59", now) or now + timedelta(minutes=1)
    except TimingError as exc:
        raise web.HTTPBadRequest(text="; ".join(exc.problems)) from exc
    firing = request.query.get("firing", "")
    async with rt.sessions() as session:
        if firing.isdigit():
            broadcast = await session.get(Broadcast, int(firing))
            campaign = await session.get(Campaign, broadcast.campaign_id) if broadcast else None
            if broadcast is None or campaign is None or campaign.commune_id != staff.commune_id:
                return await refuse(request, f"số liệu lần gửi mã {firing}")
            start, end = broadcast.fire_at, broadcast.fire_at + timedelta(seconds=1)
        rows = await reach_table(
            session,
            staff.commune_id,
            start,
            end,
            broadcast_id=int(firing) if firing.isdigit() else None,
        )
    header = [desk_of(request).hamlet_word.capitalize() if h == "Ấp" else h for h in CSV_HEADER]
    name = f"tiep-can-lan-gui-{firing}" if firing.isdigit() else "tiep-can"
    if ext == "csv":
        return _file(csv_bytes(header, rows), name, ext)
    return _file(xlsx_bytes(header, rows, "Tiếp cận"), name, ext)


def _day(text: str | None, at: str, now: datetime) -> datetime | None:
    """A day typed as dd/mm/yyyy, at the start or the end of it; None when not given."""
    return parse_local_datetime(text.strip() + at, now) if text and text.strip() else None
