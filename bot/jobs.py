"""Scheduled jobs: plain module-level functions of the runtime, so restarts and tests are trivial."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from bot.chat.conversation import expire_handoffs
from bot.directory.models import Commune, Staff, StaffRole
from bot.outbound.alerts import AUTH_ALERT, raise_alert
from bot.outbound.work import Work
from bot.runtime import Runtime
from bot.zalo.errors import AuthorizationLost, ZaloClientError

log = logging.getLogger(__name__)


async def sweep_inbox(rt: Runtime, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-queue inbox rows a crash or a retry-later left pending."""
    return await rt.processor.sweep(older_than)


async def resolve_outbox(rt: Runtime, older_than: timedelta = timedelta(minutes=2)) -> int:
    """Settle sends whose outcome is unknown (see OutboxSender.resolve_unknown)."""
    return await rt.outbox.resolve_unknown(older_than=older_than)


async def expire_handoff_windows(rt: Runtime) -> int:
    """Give conversations back to the bot when the handoff window has passed."""
    async with rt.sessions() as session:
        now = rt.clock.now()
        work = Work(session, now, rt.replies, key_prefix=f"job:handoff:{now.timestamp()}")
        count = await expire_handoffs(work)
        await session.commit()
    return count


async def reload_faq(rt: Runtime) -> bool:
    """Pick up entries imported by `loa faq import` while the service runs."""
    async with rt.sessions() as session:
        return await rt.faq.reload_if_changed(session)


async def check_tokens(rt: Runtime) -> str:
    """Refresh the OA token when due; on a final failure alert the admins once."""
    try:
        await rt.tokens.access_token()
    except AuthorizationLost as exc:
        await raise_auth_alert(rt, str(exc))
    except ZaloClientError as exc:
        log.warning("token check could not reach Zalo: %s", exc)
    else:
        if rt.tokens.lost:  # refused, but the old token still works for a while
            await raise_auth_alert(rt, "Zalo refused the refresh token")
        else:
            rt.zalo_status = "ok"
    return rt.zalo_status


async def raise_auth_alert(rt: Runtime, detail: str) -> None:
    """Record that the OA needs re-authorising: log, /healthz degraded, a message to commune admins."""
    rt.zalo_status = "authorization_lost"
    async with rt.sessions() as session:
        admins = (
            await session.scalars(
                select(Staff).where(Staff.role == StaffRole.ADMIN, Staff.active.is_(True))
            )
        ).all()
        names = {c.id: c.name for c in await session.scalars(select(Commune))}

        def text(admin: Staff) -> str:
            # The access token usually outlives a failed early refresh by hours, so this can still go.
            commune = names.get(admin.commune_id, "xã")
            return rt.replies.render("authorization_lost", commune=commune)

        raised = await raise_alert(
            session, rt.clock.now(), kind=AUTH_ALERT, detail=detail, to=admins, text=text
        )
        await session.commit()
    if raised is not None:
        log.error(
            "OA authorisation lost (%s); run `loa zalo connect` to grant access again", detail
        )
        rt.outbox.wake()
