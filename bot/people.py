"""Looking up and recording the people behind Zalo user ids."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.models import Commune, Conversation, ConversationMode, Hamlet, Resident, Staff


async def default_commune(session: AsyncSession) -> Commune | None:
    """The deployment's commune (one OA per deployment: the first one)."""
    return await session.scalar(select(Commune).order_by(Commune.id).limit(1))


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


async def conversation_for(session: AsyncSession, resident: Resident, now: datetime) -> Conversation:
    """The bot's conversation state with a resident, created on first contact."""
    conv = await session.scalar(select(Conversation).where(Conversation.resident_id == resident.id))
    if conv is None:
        conv = Conversation(resident_id=resident.id, mode=ConversationMode.BOT, misses=0, updated_at=now)
        session.add(conv)
        await session.flush()
    return conv


async def staff_for(session: AsyncSession, zalo_user_id: str) -> Staff | None:
    """The active staff member with this Zalo user id, if any."""
    return await session.scalar(
        select(Staff)
        .where(Staff.zalo_user_id == zalo_user_id, Staff.active.is_(True))
        .order_by(Staff.id)
        .limit(1)
    )


async def hamlets_of(session: AsyncSession, commune_id: int | None) -> list[Hamlet]:
    """A commune's hamlets in a stable order."""
    if commune_id is None:
        return []
    return list(
        (
            await session.scalars(select(Hamlet).where(Hamlet.commune_id == commune_id).order_by(Hamlet.id))
        ).all()
    )


def within_window(resident: Resident | None, now: datetime, days: int = 7) -> bool:
    """Whether Zalo lets the OA message this user 1:1 (they interacted in the last 7 days)."""
    last = resident.last_interaction_at if resident else None
    return last is not None and (now - last).total_seconds() < days * 86400
