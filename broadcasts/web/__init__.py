"""The announcements' pages on the desk: dashboard, approvals, the handoff inbox, the hamlets."""

from __future__ import annotations

from aiohttp import web

from bot.directory.roles import Action
from bot.web.desk import NAV, NavItem
from broadcasts.web import (
    approvals,
    audit,
    campaigns,
    compose,
    hamlets,
    home,
    households,
    inbox,
    reach,
    residents,
)

MENU = [
    NavItem("Tổng quan", "/admin/"),
    NavItem("Duyệt thông báo", approvals.PATH, Action.APPROVE),
    NavItem("Thông báo", campaigns.PATH, Action.SEE_CAMPAIGNS, commune_wide=True),
    NavItem("Người dân chờ", inbox.PATH),
    NavItem("{Word} của tôi", "/admin/hamlets/{hamlet}", own_hamlet=True),
    NavItem("Các {word}", hamlets.PATH, Action.SEE_CAMPAIGNS, commune_wide=True),
    NavItem("Hộ dân", households.PATH, Action.SEE_HOUSEHOLDS),
    NavItem("Người dân", residents.PATH, Action.SEE_HAMLET),
    NavItem("Nhật ký", audit.PATH, Action.SEE_AUDIT),
]


def add_routes(app: web.Application) -> None:
    """The announcements' desk routes and their menu entries."""
    app.router.add_get("/admin/", home.dashboard)
    app.router.add_get(approvals.PATH, approvals.queue)
    app.router.add_post(approvals.PATH + "/{id:\\d+}", approvals.answer)
    app.router.add_get(inbox.PATH, inbox.inbox)
    app.router.add_post(inbox.PATH + "/{id:\\d+}/reply", inbox.reply)
    app.router.add_post(inbox.PATH + "/{id:\\d+}/close", inbox.close)
    app.router.add_get(audit.PATH, audit.audit_log)
    app.router.add_get(campaigns.PATH, campaigns.campaign_list)
    app.router.add_get(compose.NEW_PATH, compose.new_form)
    app.router.add_post(compose.NEW_PATH, compose.submit)
    app.router.add_post(compose.PREVIEW_PATH, compose.preview)
    app.router.add_get(campaigns.PATH + "/{id:\\d+}", campaigns.campaign_page)
    app.router.add_post(
        campaigns.PATH + "/{id:\\d+}/{action:cancel|retry|resend|seen}", campaigns.act
    )
    reached = reach.PATH.replace("{id}", "{id:\\d+}").replace("{hamlet}", "{hamlet:\\d+}")
    app.router.add_get(reached, reach.households_page)
    app.router.add_post(reached + "/offline", reach.record_offline)
    app.router.add_get(reached + "/households.{ext:csv|xlsx}", reach.households_file)
    app.router.add_get(reach.EXPORT_PATH + ".{ext:csv|xlsx}", reach.reach_file)
    app.router.add_get(residents.PATH, residents.resident_list)
    app.router.add_get(households.PATH, households.household_list)
    app.router.add_get(households.IMPORT_PATH, households.import_form)
    app.router.add_post(households.IMPORT_PATH, households.import_file)
    app.router.add_get(households.PATH + "/{id:\\d+}", households.household_page)
    app.router.add_post(households.PATH + "/{id:\\d+}", households.save)
    app.router.add_post(households.PATH + "/{id:\\d+}/members", households.link)
    app.router.add_get(hamlets.PATH, hamlets.hamlet_list)
    app.router.add_get(hamlets.PATH + "/{id:\\d+}", hamlets.hamlet_page)
    app.router.add_post(hamlets.PATH + "/{id:\\d+}/handover", hamlets.hand_over)
    app[NAV] = [*app.get(NAV, []), *MENU]
