"""Households on the desk: the list and search, one household's page, linking followers, the import.

Households' names, phones and categories are private: the commune's staff see them all, a head
those of their own hamlet, and nobody else any. A linked follower is someone in the household or
someone who receives the announcements for it (a child in town reading for old parents). The
import is `loa households import` through the page: every row checked, all imported or none.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import false, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry, Hamlet, Resident
from bot.directory.roles import Action, can, territory
from bot.keys import RUNTIME
from bot.text import fold
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from bot.web.uploads import receive_file
from broadcasts.households import ImportProblems, import_households, normalize_phone, vn_number
from broadcasts.models import Household, HouseholdMember
from broadcasts.workflow import HOUSEHOLD_KINDS

PATH = "/admin/households"
IMPORT_PATH = PATH + "/import"
PAGE_SIZE = 100
MAX_UPLOAD = 20 * 1024 * 1024  # a commune's list of 100,000 households is a few megabytes
LINK_CHOICES = 200  # followers of the hamlet offered for linking


def page_number(value: str | None) -> int:
    """The page a list was asked for: 1 unless a sensible number was given."""
    return max(1, min(10_000, int(value))) if value and value.isdigit() else 1


@desk_page
async def household_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/households: `hamlet`, `q` (code or head's name), `kind`, `page`."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    staff = desk.staff
    if not can(staff, Action.SEE_HOUSEHOLDS):
        return await refuse(request, "danh sách hộ")
    own = territory(staff)
    typed_hamlet = request.query.get("hamlet", "")
    hamlet_id = own if own is not None else (int(typed_hamlet) if typed_hamlet.isdigit() else None)
    q = request.query.get("q", "").strip()[:100]
    kind = request.query.get("kind", "")
    page = page_number(request.query.get("page"))
    query = select(Household).where(Household.commune_id == staff.commune_id)
    if hamlet_id is not None:
        query = query.where(Household.hamlet_id == hamlet_id)
    if q:
        wanted = fold(q)  # nothing searchable in it ("_", "!!"): nothing found
        query = query.where(
            Household.search_key.contains(wanted, autoescape=True) if wanted else false()
        )
    if kind in HOUSEHOLD_KINDS:
        query = query.where(Household.category == kind)
    async with rt.sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        found = (
            await session.scalars(
                query.order_by(Household.code).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
            )
        ).all()
        members = await _members(session, [h.id for h in found])
        hamlets = await hamlets_of(session, staff.commune_id, own)
    names = {h.id: h.name for h in hamlets}
    filters = {"hamlet": typed_hamlet if own is None else "", "q": q, "kind": kind}
    kept = {k: v for k, v in filters.items() if v}
    return render_desk(
        request,
        "households.html",
        {
            "title": "Danh sách hộ",
            "rows": [
                {"h": h, "hamlet": names.get(h.hamlet_id, ""), "members": members.get(h.id, [])}
                for h in found
            ],
            "total": total,
            "page": page,
            "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            "prev": urlencode({**kept, "page": page - 1}) if page > 1 else "",
            "next": urlencode({**kept, "page": page + 1}) if page * PAGE_SIZE < total else "",
            "hamlets": hamlets if own is None else [],
            "chosen": {**filters, "hamlet": str(hamlet_id or "")},
            "kinds": HOUSEHOLD_KINDS,
            "may_import": can(staff, Action.IMPORT_HOUSEHOLDS),
            "count": vn_number(total),
        },
    )


async def hamlets_of(session: AsyncSession, commune_id: int, own: int | None) -> list[Hamlet]:
    """The commune's hamlets by name, or only `own` for a territorial role."""
    query = select(Hamlet).where(Hamlet.commune_id == commune_id)
    if own is not None:
        query = query.where(Hamlet.id == own)
    return list((await session.scalars(query.order_by(Hamlet.name))).all())


async def _members(session: AsyncSession, household_ids: list[int]) -> dict[int, list[Resident]]:
    """The linked followers of each household."""
    if not household_ids:
        return {}
    rows = await session.execute(
        select(HouseholdMember.household_id, Resident)
        .join(Resident, Resident.id == HouseholdMember.resident_id)
        .where(HouseholdMember.household_id.in_(household_ids))
        .order_by(Resident.display_name)
    )
    found: dict[int, list[Resident]] = {}
    for household_id, resident in rows.all():
        found.setdefault(household_id, []).append(resident)
    return found


async def _household(request: web.Request, session: AsyncSession) -> Household | None:
    """The household in the URL, if this person may see it."""
    staff = desk_of(request).staff
    found = await session.get(Household, int(request.match_info["id"]))
    if (
        found is None
        or found.commune_id != staff.commune_id
        or not can(staff, Action.SEE_HOUSEHOLDS, found.hamlet_id)
    ):
        return None
    return found


async def _household_page(
    request: web.Request,
    session: AsyncSession,
    household: Household,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    staff = desk_of(request).staff
    own = territory(staff)
    members = (await _members(session, [household.id])).get(household.id, [])
    linked = select(HouseholdMember.resident_id)
    choices = (
        await session.scalars(
            select(Resident)
            .where(Resident.hamlet_id == household.hamlet_id, Resident.id.not_in(linked))
            .order_by(Resident.display_name)
            .limit(LINK_CHOICES)
        )
    ).all()
    done = request.query.get("done", "")
    return render_desk(
        request,
        "household.html",
        {
            "title": f"Hộ {household.head_name}",
            "h": household,
            "f": typed
            or {
                "head_name": household.head_name,
                "address": household.address or "",
                "phone": household.phone or "",
                "category": household.category,
                "hamlet": str(household.hamlet_id),
            },
            "errors": errors or {},
            "members": members,
            "choices": choices,
            "hamlets": await hamlets_of(session, staff.commune_id, own),
            "kinds": HOUSEHOLD_KINDS,
            "may_edit": can(staff, Action.EDIT_HOUSEHOLDS, household.hamlet_id),
            "may_move": own is None and can(staff, Action.EDIT_HOUSEHOLDS),
            "done": done if done in ("saved", "linked", "unlinked") else "",
        },
        status=status,
    )


@desk_page
async def household_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/households/{id}: one household, its linked followers, the edit form."""
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        household = await _household(request, session)
        if household is None:
            return await refuse(request, f"hộ {request.match_info['id']}")
        return await _household_page(request, session, household)


def _audit(request: web.Request, session: AsyncSession, household: Household, note: str) -> None:
    rt = request.app[RUNTIME]
    session.add(
        AuditEntry(
            at=rt.clock.now(),
            actor_staff_id=desk_of(request).staff.id,
            entity="household",
            entity_id=household.id,
            to_status="updated",
            note=f"{household.code}: {note}"[:500],
        )
    )


@desk_page
async def save(request: web.Request) -> web.StreamResponse:
    """POST /admin/households/{id}: head's name, address, phone, category (and hamlet, commune-wide)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    form = await request.post()
    typed = {
        k: str(form.get(k, "")).strip()[:300]
        for k in ("head_name", "address", "phone", "category", "hamlet")
    }
    async with rt.sessions() as session:
        household = await _household(request, session)
        if household is None or not can(staff, Action.EDIT_HOUSEHOLDS, household.hamlet_id):
            return await refuse(request, f"sửa hộ {request.match_info['id']}")
        errors: dict[str, str] = {}
        if not typed["head_name"]:
            errors["head_name"] = "Xin ghi tên chủ hộ."
        phone = normalize_phone(typed["phone"]) if typed["phone"] else None
        if typed["phone"] and phone is None:
            errors["phone"] = (
                f"Số điện thoại “{typed['phone']}” chưa đúng: cần 10 số, ví dụ 0912345678."
            )
        commune_wide = territory(staff) is None
        if not commune_wide:
            # Poor and near-poor are the commune's review decision, not a head's to change.
            typed["category"] = household.category
        if typed["category"] not in HOUSEHOLD_KINDS:
            errors["category"] = "Xin chọn nhóm hộ."
        hamlet_id = household.hamlet_id
        if commune_wide and typed["hamlet"].isdigit():
            moved = await session.get(Hamlet, int(typed["hamlet"]))
            if moved is None or moved.commune_id != staff.commune_id:
                errors["hamlet"] = "Không có nơi này trong xã."
            else:
                hamlet_id = moved.id
        if errors:
            return await _household_page(
                request, session, household, typed=typed, errors=errors, status=400
            )
        changed = [
            name
            for name, old, new in (
                ("tên chủ hộ", household.head_name, typed["head_name"]),
                ("địa chỉ", household.address or "", typed["address"]),
                ("điện thoại", household.phone or "", phone or ""),
                ("nhóm hộ", household.category, typed["category"]),
                ("nơi ở", household.hamlet_id, hamlet_id),
            )
            if old != new
        ]
        household.head_name = typed["head_name"]
        household.address = typed["address"] or None
        household.phone = phone
        household.category = typed["category"]
        household.hamlet_id = hamlet_id
        if changed:
            household.updated_at = rt.clock.now()
            _audit(request, session, household, "sửa " + ", ".join(changed))
        await session.commit()
        target = f"{PATH}/{household.id}?done=saved"
    raise web.HTTPSeeOther(target)


@desk_page
async def link(request: web.Request) -> web.StreamResponse:
    """POST /admin/households/{id}/members: link `resident` (or `unlink` one) to the household."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    form = await request.post()
    async with rt.sessions() as session:
        household = await _household(request, session)
        if household is None or not can(staff, Action.EDIT_HOUSEHOLDS, household.hamlet_id):
            return await refuse(request, f"liên kết hộ {request.match_info['id']}")
        unlink = str(form.get("unlink", ""))
        chosen = str(form.get("resident", ""))
        if unlink.isdigit():
            member = await session.scalar(
                select(HouseholdMember).where(
                    HouseholdMember.household_id == household.id,
                    HouseholdMember.resident_id == int(unlink),
                )
            )
            if member is None:
                return await refuse(request, f"bỏ liên kết {unlink}")
            resident = await session.get(Resident, member.resident_id)
            await session.delete(member)
            _audit(request, session, household, f"bỏ liên kết {_name(resident)}")
            done = "unlinked"
        else:
            resident = await session.get(Resident, int(chosen)) if chosen.isdigit() else None
            # Only a follower of the household's own hamlet: a head links nobody from elsewhere.
            if resident is None or resident.hamlet_id != household.hamlet_id:
                return await _household_page(
                    request,
                    session,
                    household,
                    errors={"resident": "Xin chọn một người trong danh sách."},
                    status=400,
                )
            member = await session.scalar(
                select(HouseholdMember).where(HouseholdMember.resident_id == resident.id)
            )
            if member is None:
                session.add(HouseholdMember(household_id=household.id, resident_id=resident.id))
            else:
                member.household_id = household.id  # one household per person: moved here
            _audit(request, session, household, f"liên kết {_name(resident)}")
            done = "linked"
        await session.commit()
        target = f"{PATH}/{household.id}?done={done}"
    raise web.HTTPSeeOther(target)


def _name(resident: Resident | None) -> str:
    return (resident.display_name if resident else None) or "người dân"


@desk_page
async def import_form(request: web.Request) -> web.StreamResponse:
    """GET /admin/households/import: the upload form and the columns a file must have."""
    if not can(desk_of(request).staff, Action.IMPORT_HOUSEHOLDS):
        return await refuse(request, "nhập danh sách hộ")
    return render_desk(request, "households_import.html", _import_context())


def _import_context(**extra: Any) -> dict[str, Any]:
    return {"title": "Nhập danh sách hộ", "problems": [], "result": None, "name": "", **extra}


@desk_page
async def import_file(request: web.Request) -> web.StreamResponse:
    """POST /admin/households/import: multipart, `csrf_token` first, then `file`; all or nothing."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    if not can(desk.staff, Action.IMPORT_HOUSEHOLDS):
        return await refuse(request, "nhập danh sách hộ")
    with tempfile.TemporaryDirectory(prefix="loa-import-") as folder:
        path, name, problem = await receive_file(
            request,
            Path(folder),
            kinds={".csv": "CSV (.csv)", ".xlsx": "Excel (.xlsx)"},
            max_bytes=MAX_UPLOAD,
            what="danh sách hộ",
        )
        if path is None:
            context = _import_context(problems=[problem], name=name)
            return render_desk(request, "households_import.html", context, status=400)
        now = rt.clock.now()
        try:
            async with rt.sessions() as session, session.begin():
                result = await import_households(session, desk.commune.id, path, now)
                session.add(
                    AuditEntry(
                        at=now,
                        actor_staff_id=desk.staff.id,
                        entity="household",
                        entity_id=0,
                        to_status="imported",
                        note=(
                            f"{name}: {result.created} hộ mới, {result.updated} cập nhật, "
                            f"{result.unchanged} không đổi, {result.linked} liên kết Zalo"
                        )[:500],
                    )
                )
        except ImportProblems as exc:
            context = _import_context(problems=exc.problems, name=name)
            return render_desk(request, "households_import.html", context, status=400)
        except SQLAlchemyError as exc:
            problems = [
                "Không ghi được danh sách hộ vào cơ sở dữ liệu, chưa có gì thay đổi. Xin thử lại; "
                f"nếu vẫn lỗi, báo quản trị xã (chi tiết: {type(exc).__name__})."
            ]
            context = _import_context(problems=problems, name=name)
            return render_desk(request, "households_import.html", context, status=500)
    return render_desk(request, "households_import.html", _import_context(result=result, name=name))
