"""How the announcements feature plugs into the service: handlers, routes, the scheduler tick."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from bot.config import Settings
from bot.directory.models import Hamlet, Staff, StaffRole
from bot.inbound.dispatch import Dispatcher
from bot.keys import RUNTIME
from bot.outbound.alerts import raise_alert
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage
from bot.outbound.outbox import failure_reason
from bot.outbound.replies import Replies
from bot.runtime import Runtime
from bot.web.pages import message_page
from broadcasts import chat, groups, privacy, scheduler, tracking
from broadcasts import web as desk
from broadcasts.campaigns import Deps, deps_for
from broadcasts.delivery import LINK_PATH
from broadcasts.render import AnnouncementTemplates

log = logging.getLogger(__name__)

TICK_SECONDS = 30


def build_deps(settings: Settings, replies: Replies) -> Deps:
    """The campaign logic's view of the service: built once per process, one Jinja environment."""
    return Deps(
        templates=AnnouncementTemplates(settings.templates_dir / "announcements"),
        replies=replies,
        base_url=settings.base_url,
    )


def install_handlers(dispatcher: Dispatcher, deps: Deps) -> None:
    """The announcements' chat handlers (broadcasts.chat), before the residents' chat."""
    chat.install(dispatcher, deps)


def add_routes(app: web.Application) -> None:
    """The public page behind each tracked link, each hamlet group's poster, the desk's pages."""
    app.router.add_get(LINK_PATH + "{token}", link_page)
    app.router.add_get(groups.POSTER_PATH, groups.poster_page)
    desk.add_routes(app)


async def run_tick(rt: Runtime) -> int:
    """The scheduler job: one tick, then wake the outbox for what it queued."""
    count = await scheduler.tick(rt.sessions, deps_for(rt), rt.clock.now())
    rt.outbox.wake()
    return count


def schedule(sched: AsyncIOScheduler, rt: Runtime) -> None:
    """Tick every TICK_SECONDS; the due times themselves live in the database."""
    sched.add_job(
        run_tick, "interval", seconds=TICK_SECONDS, args=[rt], max_instances=1, coalesce=True
    )
    sched.add_job(purge_chat, "interval", hours=6, args=[rt], max_instances=1, coalesce=True)


async def purge_chat(rt: Runtime) -> tuple[int, int]:
    """Blank chat content older than the retention period (LOA_CHAT_RETENTION_DAYS)."""
    async with rt.sessions() as session:
        counts = await privacy.purge_chat_content(
            session, timedelta(days=rt.settings.chat_retention_days), rt.clock.now()
        )
        await session.commit()
    return counts


async def link_page(request: web.Request) -> web.Response:
    """Show the full announcement and count the open."""
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        found = await tracking.record_link_open(
            session, request.match_info["token"], rt.clock.now()
        )
        await session.commit()
    if found is None:
        return message_page(
            request,
            "Không tìm thấy thông báo",
            ["Đường dẫn không đúng hoặc đã hết hạn."],
            status=404,
        )
    _, text = found
    paragraphs = [line for line in text.splitlines() if line.strip()]
    return message_page(request, "Thông báo của xã", paragraphs, heading="Thông báo")


GROUP_ALERTS = {-237: "group_disabled", -403: "oa_not_in_group"}


async def on_delivery_failed(rt: Runtime, row: OutboundMessage, code: int) -> None:
    """A hamlet group that refuses the OA (plan expired, OA removed): alert the officials once."""
    kind = GROUP_ALERTS.get(code)
    if row.channel != Channel.GROUP or kind is None:
        return
    async with rt.sessions() as session:
        hamlet = await session.scalar(select(Hamlet).where(Hamlet.group_id == row.recipient_id))
        where = hamlet.name if hamlet else "nhóm xã"
        reason = failure_reason(code, "")
        officials = (
            await session.scalars(
                select(Staff).where(
                    Staff.role.in_([StaffRole.OFFICIAL, StaffRole.ADMIN]), Staff.active.is_(True)
                )
            )
        ).all()
        text = rt.replies.render("group_alert", hamlet=where, reason=reason, code=code)
        raised = await raise_alert(
            session,
            rt.clock.now(),
            kind=f"{kind}:{row.recipient_id}",
            detail=f"{where}: {reason}",
            to=officials,
            text=lambda _: text,
        )
        await session.commit()
    if raised is None:
        return
    log.error("group %s refuses the OA (%s)", row.recipient_id, code)
    rt.outbox.wake()
