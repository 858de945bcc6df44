"""Staff accounts on the desk: the list, adding and changing one, disabling and enabling.

The same rules as `loa staff` (`bot.directory.staffing`). Commune admins change accounts; auditors
read the list. Passwords are set with `loa staff password`, never shown or typed here for others.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import VN_TZ
from bot.directory.models import Hamlet, Staff, StaffRole
from bot.directory.roles import Action, can, role_label
from bot.directory.staffing import StaffChange, StaffError, save_staff, set_active
from bot.keys import RUNTIME
from bot.web.auth import desk_of, desk_page
from bot.web.desk import NAV, NavItem, refuse, render_desk
from bot.web.zalo_signin import issue_link_code

PATH = "/admin/staff"
DONE = {
    "added": "Đã thêm tài khoản {name}.",
    "updated": "Đã lưu thay đổi của {name}.",
    "disabled": "Đã khoá tài khoản {name}; mọi phiên đăng nhập của người đó đã kết thúc.",
    "enabled": "Đã mở lại tài khoản {name}.",
}


def _change_from(form: Any) -> StaffChange:
    hamlet = str(form.get("hamlet", ""))
    return StaffChange(
        name=str(form.get("name", ""))[:200],
        phone=str(form.get("phone", ""))[:32],
        role=str(form.get("role", "")),
        hamlet_id=int(hamlet) if hamlet.isdigit() else None,
        zalo_id=str(form.get("zalo_id", ""))[:64],
    )


async def _context(
    request: web.Request,
    session: AsyncSession,
    *,
    editing: Staff | None = None,
    typed: StaffChange | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    desk = desk_of(request)
    word = desk.hamlet_word
    hamlets = (
        await session.scalars(
            select(Hamlet).where(Hamlet.commune_id == desk.commune.id).order_by(Hamlet.name)
        )
    ).all()
    names = {h.id: h.name for h in hamlets}
    accounts = (
        await session.scalars(
            select(Staff)
            .where(Staff.commune_id == desk.commune.id)
            .order_by(Staff.active.desc(), Staff.role, Staff.name)
        )
    ).all()
    rows = [
        {
            "s": s,
            "role": role_label(s.role, word),
            "hamlet": names.get(s.hamlet_id or 0, ""),
            "ways": [
                w for w, ok in (("Zalo", s.zalo_user_id), ("mật khẩu", s.password_hash)) if ok
            ],
        }
        for s in accounts
    ]
    if typed is None and editing is not None:
        typed = StaffChange(
            editing.name,
            editing.phone or "",
            editing.role,
            editing.hamlet_id,
            editing.zalo_user_id or "",
        )
    done = request.query.get("done", "")
    who = request.query.get("who", "")
    done_staff = next((s for s in accounts if str(s.id) == who), None)
    done_for = done_staff.name if done_staff else ""
    unlinked = (
        done_staff
        if done_staff is not None
        and done_staff.active
        and not done_staff.zalo_user_id
        and can(desk.staff, Action.MANAGE_STAFF)
        else None
    )
    return {
        "title": "Cán bộ" if editing is None else f"Sửa tài khoản {editing.name}",
        "rows": rows,
        "hamlets": hamlets,
        "roles": [(r.value, role_label(r.value, word)) for r in StaffRole],
        "editing": editing,
        "f": typed or StaffChange("", "", StaffRole.HAMLET_HEAD.value),
        "errors": errors or {},
        "may_manage": can(desk.staff, Action.MANAGE_STAFF),
        "done": DONE[done].format(name=done_for) if done in DONE and done_for else "",
        "unlinked": unlinked,
    }


@desk_page
async def staff_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/staff: every account of the commune, and the form to add one."""
    rt = request.app[RUNTIME]
    if not can(desk_of(request).staff, Action.SEE_STAFF):
        return await refuse(request, "danh sách cán bộ")
    async with rt.sessions() as session:
        context = await _context(request, session)
    return render_desk(request, "staff.html", context)


async def _account(request: web.Request, session: AsyncSession) -> Staff | None:
    found = await session.get(Staff, int(request.match_info["id"]))
    if found is None or found.commune_id != desk_of(request).commune.id:
        return None
    return found


@desk_page
async def edit_form(request: web.Request) -> web.StreamResponse:
    """GET /admin/staff/{id}: one account's form, filled in."""
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        account = await _account(request, session)
        if account is None or not can(desk_of(request).staff, Action.MANAGE_STAFF):
            return await refuse(request, f"tài khoản {request.match_info['id']}")
        context = await _context(request, session, editing=account)
    return render_desk(request, "staff_edit.html", context)


@desk_page
async def save(request: web.Request) -> web.StreamResponse:
    """POST /admin/staff (a new account, or the one with this phone) or /admin/staff/{id}."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    if not can(desk.staff, Action.MANAGE_STAFF):
        return await refuse(request, "sửa tài khoản cán bộ")
    change = _change_from(await request.post())
    async with rt.sessions() as session:
        editing = None
        if "id" in request.match_info:
            editing = await _account(request, session)
            if editing is None:
                return await refuse(request, f"tài khoản {request.match_info['id']}")
        try:
            account, created = await save_staff(
                session,
                desk.commune,
                change,
                rt.clock.now(),
                staff_id=editing.id if editing else None,
                actor_id=desk.staff.id,
                new_only=editing is None,
            )
        except StaffError as exc:
            await session.rollback()
            if editing is not None:
                await session.refresh(editing)
            context = await _context(
                request, session, editing=editing, typed=change, errors=exc.problems
            )
            template = "staff_edit.html" if editing else "staff.html"
            return render_desk(request, template, context, status=400)
        await session.commit()
    done = "added" if created else "updated"
    raise web.HTTPSeeOther(f"{PATH}?{urlencode({'done': done, 'who': account.id})}")


@desk_page
async def activate(request: web.Request) -> web.StreamResponse:
    """POST /admin/staff/{id}/active: `active` 0 disables (ending its sessions), 1 enables."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    active = (await request.post()).get("active") == "1"
    async with rt.sessions() as session:
        account = await _account(request, session)
        if account is None or not can(desk.staff, Action.MANAGE_STAFF):
            return await refuse(request, f"khoá tài khoản {request.match_info['id']}")
        try:
            await set_active(session, account, active, rt.clock.now(), actor_id=desk.staff.id)
        except StaffError as exc:
            await session.rollback()
            context = await _context(request, session, errors=exc.problems)
            return render_desk(request, "staff.html", context, status=400)
        await session.commit()
    done = "enabled" if active else "disabled"
    raise web.HTTPSeeOther(f"{PATH}?{urlencode({'done': done, 'who': account.id})}")


@desk_page
async def link_code(request: web.Request) -> web.StreamResponse:
    """POST /admin/staff/{id}/zalo-code: a one-time code that links the person's own Zalo.

    The code is shown once, on this answer, for the admin to read to the person; it is kept
    hashed only."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    async with rt.sessions() as session:
        account = await _account(request, session)
        if account is None or not can(desk.staff, Action.MANAGE_STAFF):
            return await refuse(request, f"mã liên kết {request.match_info['id']}")
        if not account.active:
            context = await _context(
                request, session, errors={"staff": f"Tài khoản {account.name} đang bị khoá."}
            )
            return render_desk(request, "staff.html", context, status=400)
        code, expires = await issue_link_code(session, account, rt.clock.now(), desk.staff.id)
        await session.commit()
    context = {
        "title": f"Mã liên kết Zalo cho {account.name}",
        "account": account,
        "code": code,
        "spaced": f"{code[:4]} {code[4:]}",
        "expires": expires.astimezone(VN_TZ).strftime("%Hh%M ngày %d/%m/%Y"),
        "replaces": bool(account.zalo_user_id),
    }
    response = render_desk(request, "staff_code.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


def add_routes(app: web.Application) -> None:
    """The staff pages and their menu entry."""
    app.router.add_get(PATH, staff_list)
    app.router.add_post(PATH, save)
    app.router.add_get(PATH + "/{id:\\d+}", edit_form)
    app.router.add_post(PATH + "/{id:\\d+}", save)
    app.router.add_post(PATH + "/{id:\\d+}/active", activate)
    app.router.add_post(PATH + "/{id:\\d+}/zalo-code", link_code)
    app[NAV] = [*app.get(NAV, []), NavItem("Cán bộ", PATH, Action.SEE_STAFF)]
