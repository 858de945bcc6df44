"""Alerts: something only a person can fix, raised once until resolved, told 1:1 to who can act."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Staff
from bot.outbound.channels import Channel
from bot.outbound.models import Alert
from bot.outbound.outbox import queue_message

AUTH_ALERT = "authorization_lost"  # the OA's grant is gone: an admin must run `loa zalo connect`


async def raise_alert(
    session: AsyncSession,
    now: datetime,
    *,
    kind: str,
    detail: str,
    to: Sequence[Staff],
    text: Callable[[Staff], str],
) -> Alert | None:
    """Open an alert of `kind` and queue `text(staff)` to each of `to`; None if one is open already.

    Always 1:1: the commune group may be the very group that refuses us. The caller commits.
    """
    open_id = await session.scalar(
        select(Alert.id).where(Alert.kind == kind, Alert.resolved_at.is_(None)).limit(1)
    )
    if open_id is not None:
        return None
    alert = Alert(kind=kind, detail=detail[:2000], created_at=now)
    session.add(alert)
    await session.flush()
    for staff in to:
        queue_message(
            session,
            key=f"alert:{alert.id}:{staff.id}",
            channel=Channel.CS,
            recipient_id=staff.zalo_user_id,
            text=text(staff),
            purpose="alert",
            now=now,
        )
    return alert


async def resolve_alerts(session: AsyncSession, now: datetime, kind: str) -> None:
    """Close every open alert of `kind` (the cause was fixed). The caller commits."""
    await session.execute(
        update(Alert).where(Alert.kind == kind, Alert.resolved_at.is_(None)).values(resolved_at=now)
    )
