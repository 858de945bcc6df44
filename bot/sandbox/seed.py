"""Seeding an empty database with the demo commune, for the sandbox and the quick start."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.faq.loader import seed_if_empty
from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole
from bot.sandbox import demo
from bot.web.passwords import hash_password


async def seed_demo(session: AsyncSession, now: datetime) -> bool:
    """Create the demo commune, hamlets and staff (and the bundled FAQ) if there is no commune yet."""
    if await session.scalar(select(Commune.id).limit(1)) is not None:
        return False
    commune = Commune(
        slug=demo.COMMUNE_SLUG,
        name=demo.COMMUNE_NAME,
        hamlet_word=demo.HAMLET_WORD,
        group_id=demo.COMMUNE_GROUP_ID,
        created_at=now,
    )
    session.add(commune)
    await session.flush()
    hamlets: dict[str, Hamlet] = {}
    for name, language, group_id in demo.HAMLETS:
        hamlets[name] = Hamlet(
            commune_id=commune.id,
            name=name,
            language=language,
            group_id=group_id,
            group_link=demo.group_link(group_id) if group_id else None,
        )
        session.add(hamlets[name])
    await session.flush()
    for person in demo.PEOPLE:
        session.add(
            Resident(
                zalo_user_id=person.zalo_user_id,
                display_name=person.name,
                commune_id=commune.id,
                hamlet_id=hamlets[person.hamlet].id if person.hamlet else None,
                is_follower=person.follower,
                opted_out=False,
                created_at=now,
            )
        )
        if person.role is None:
            continue
        session.add(
            Staff(
                commune_id=commune.id,
                hamlet_id=hamlets[person.hamlet].id if person.hamlet else None,
                zalo_user_id=person.zalo_user_id,
                name=person.name,
                role=person.role,
                active=True,
                phone=person.phone,
                # Office people get the demo's password; heads sign in through Zalo, as in real life.
                password_hash=hash_password(demo.DEMO_PASSWORD)
                if person.role in (StaffRole.OFFICIAL, StaffRole.ADMIN)
                else None,
            )
        )
    await seed_if_empty(session, now)
    await session.flush()
    return True
