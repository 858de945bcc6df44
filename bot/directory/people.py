"""Looking up and recording the people behind Zalo user ids."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Commune, Hamlet, Resident, Staff


async def default_commune(session: AsyncSession) -> Commune | None:
    """The deployment's commune (one OA per deployment: the first one)."""
    return await session.scalar(select(Commune).order_by(Commune.id).limit(1))


class UnknownCommune(LookupError):
    """The commune asked for does not exist, or several exist and none was named (Vietnamese message)."""


async def select_commune(session: AsyncSession, wanted: str | None) -> Commune:
    """The commune named by slug or name; the only one when none is named and the OA serves just one."""
    from bot.text import fold

    communes = list((await session.scalars(select(Commune).order_by(Commune.id))).all())
    if not communes:
        raise UnknownCommune("Cơ sở dữ liệu chưa có xã nào.")
    if wanted:
        for commune in communes:
            if wanted == commune.slug or fold(wanted) in (
                fold(commune.name),
                fold(commune.name).removeprefix("xa "),
            ):
                return commune
        raise UnknownCommune(
            f"Không có xã '{wanted}'. Các xã: {', '.join(c.slug for c in communes)}."
        )
    if len(communes) > 1:
        raise UnknownCommune(
            f"OA phục vụ nhiều xã; hãy chọn bằng --commune ({', '.join(c.slug for c in communes)})."
        )
    return communes[0]


async def resident_for(session: AsyncSession, zalo_user_id: str, now: datetime) -> Resident:
    """The resident row of a Zalo user, created on first contact."""
    resident = await session.scalar(select(Resident).where(Resident.zalo_user_id == zalo_user_id))
    if resident is None:
        commune = await default_commune(session)
        staff = await staff_for(session, zalo_user_id)
        resident = Resident(
            zalo_user_id=zalo_user_id,
            commune_id=commune.id if commune else None,
            hamlet_id=staff.hamlet_id if staff else None,
            is_follower=False,
            opted_out=False,
            created_at=now,
        )
        session.add(resident)
        await session.flush()
    return resident


async def staff_for(session: AsyncSession, zalo_user_id: str) -> Staff | None:
    """The active staff member with this Zalo user id, if any."""
    return await session.scalar(
        select(Staff)
        .where(Staff.zalo_user_id == zalo_user_id, Staff.active.is_(True))
        .order_by(Staff.id)
        .limit(1)
    )


async def hamlet_choices(session: AsyncSession) -> list[tuple[Hamlet, str]]:
    """Every hamlet a resident may pick, with its label; the commune is named when the OA serves several."""
    rows = (
        await session.execute(
            select(Hamlet, Commune.name)
            .join(Commune, Commune.id == Hamlet.commune_id)
            .order_by(Commune.id, Hamlet.id)
        )
    ).all()
    several = len({hamlet.commune_id for hamlet, _ in rows}) > 1
    return [
        (hamlet, f"{hamlet.name} ({commune})" if several else hamlet.name)
        for hamlet, commune in rows
    ]


def may_follow() -> ColumnElement[bool]:
    """Residents who follow the OA or have never unfollowed it.

    Someone who wrote before the service saw their follow event may well follow; Zalo answers -213
    for those who do not, and that failure is recorded with its reason rather than guessed at here."""
    return or_(Resident.is_follower.is_(True), Resident.unfollowed_at.is_(None))


# Zalo lets the OA write 1:1 only this long after the user's last interaction with it.
CS_WINDOW = timedelta(days=7)


def within_window(resident: Resident | None, now: datetime, days: int = 7) -> bool:
    """Whether Zalo lets the OA message this user 1:1 (they interacted in the last 7 days)."""
    last = resident.last_interaction_at if resident else None
    return last is not None and (now - last).total_seconds() < days * 86400
