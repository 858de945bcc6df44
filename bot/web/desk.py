"""Rendering a desk page: the signed-in person, the menu their role sees, one Jinja environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.directory.models import AuditEntry, Staff
from bot.directory.roles import Action, can, role_label, territory
from bot.keys import RUNTIME
from bot.web.auth import desk_of
from bot.web.pages import message_page


@dataclass(frozen=True)
class NavItem:
    """One entry of the desk's menu; shown to whoever may do `action` (everyone when None)."""

    label: str  # "{Word}" and "{word}" stand for the commune's hamlet word (Ấp, Thôn, …)
    path: str  # "{hamlet}" stands for the signed-in person's own hamlet
    action: Action | None = None
    own_hamlet: bool = False  # only for those who belong to a hamlet
    commune_wide: bool = False  # only for those whose territory is the whole commune


NAV: web.AppKey[list[NavItem]] = web.AppKey("desk_nav", list)


def menu(items: list[NavItem], staff: Staff, word: str = "ấp") -> list[tuple[str, str]]:
    """The (label, path) entries this staff member's role may open."""
    shown = []
    for item in items:
        if item.own_hamlet and staff.hamlet_id is None:
            continue
        if item.action is not None and not can(staff, item.action):
            continue
        if item.commune_wide and territory(staff) is not None:
            continue
        label = item.label.replace("{Word}", word.capitalize()).replace("{word}", word)
        shown.append((label, item.path.replace("{hamlet}", str(staff.hamlet_id))))
    return shown


def render_desk(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A desk page for the signed-in person: `desk`, `me` and `menu` join the template's context."""
    desk = desk_of(request)
    word = desk.hamlet_word
    return aiohttp_jinja2.render_template(
        template,
        request,
        {
            **context,
            "desk": desk,
            "me": desk.staff,
            "my_role": role_label(desk.staff.role, word),
            "menu": menu(request.app.get(NAV, []), desk.staff, word),
            "word": word,
        },
        status=status,
    )


async def refuse(request: web.Request, what: str) -> web.Response:
    """404 for something this person may not see, as for something that does not exist; audited."""
    desk = desk_of(request)
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        session.add(
            AuditEntry(
                at=rt.clock.now(),
                actor_staff_id=desk.staff.id,
                entity="desk",
                entity_id=0,
                to_status="denied",
                note=f"{'mở' if request.method == 'GET' else 'gửi lệnh'}: {what} ({request.path})"[
                    :500
                ],
            )
        )
        await session.commit()
    return not_found(request)


def not_found(request: web.Request) -> web.Response:
    """The desk's 404 page."""
    return message_page(
        request,
        "Không tìm thấy trang",
        ["Trang này không có, hoặc anh/chị không xem được.", "Xin quay lại trang chính."],
        status=404,
    )
