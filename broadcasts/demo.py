"""The demo commune's household list: poor, near-poor and other households in every demo hamlet.

Seeded with the demo commune, so that reach, poor-household reach and offline reach show real
figures from the first run: some households have a demo person on Zalo, most have nobody, as in
a real hamlet.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet, Resident
from broadcasts.models import Household, HouseholdCategory, HouseholdMember

POOR = HouseholdCategory.POOR
NEAR_POOR = HouseholdCategory.NEAR_POOR
ESCAPED = HouseholdCategory.NEWLY_ESCAPED
OTHER = HouseholdCategory.OTHER

# hamlet → (code, head of household, category, Zalo id of a demo person in it or None)
HOUSEHOLDS: dict[str, tuple[tuple[str, str, HouseholdCategory, str | None], ...]] = {
    "Ấp Tân Lập": (
        ("TL-01", "Nguyễn Thị Sáu", POOR, "4000000000000000001"),
        ("TL-02", "Lê Văn Bảy", NEAR_POOR, "4000000000000000002"),
        ("TL-03", "Nguyễn Văn Hùng", OTHER, "3000000000000000001"),
        ("TL-04", "Phạm Minh Tuấn", OTHER, "3000000000000000005"),
        ("TL-05", "Trần Văn Ba", POOR, None),
        ("TL-06", "Đỗ Thị Bốn", ESCAPED, None),
    ),
    "Ấp Tân Thạnh": (
        ("TT-01", "Trần Thị Hoa", NEAR_POOR, "4000000000000000003"),
        ("TT-02", "Trần Thị Mai", OTHER, "3000000000000000002"),
        ("TT-03", "Huỳnh Văn Mười", POOR, None),
        ("TT-04", "Lê Thị Chín", NEAR_POOR, None),
        ("TT-05", "Ngô Văn Tám", OTHER, None),
    ),
    "Ấp Hòa Bình": (
        ("HB-01", "Nguyễn Văn Tư", POOR, "4000000000000000004"),
        ("HB-02", "Lê Văn Phúc", OTHER, "3000000000000000003"),
        ("HB-03", "Võ Thị Lan", OTHER, "3000000000000000006"),
        ("HB-04", "Đinh Văn Một", POOR, None),
        ("HB-05", "Bùi Thị Hai", OTHER, None),
    ),
    "Ấp Phú Lợi": (
        ("PL-01", "Phạm Thị Năm", POOR, "4000000000000000005"),
        ("PL-02", "Thạch Sô Phên", OTHER, "3000000000000000004"),
        ("PL-03", "Thạch Thị Sa Ri", POOR, None),
        ("PL-04", "Lâm Văn Chanh", NEAR_POOR, None),
        ("PL-05", "Kim Thị Sóc Kha", OTHER, None),
    ),
}


async def seed_demo_households(session: AsyncSession, commune_id: int, now: datetime) -> int:
    """Add the demo households to the demo commune's hamlets, linked to the demo people; flushes."""
    hamlets = {
        h.name: h.id
        for h in await session.scalars(select(Hamlet).where(Hamlet.commune_id == commune_id))
    }
    people = {
        r.zalo_user_id: r.id
        for r in await session.scalars(select(Resident).where(Resident.commune_id == commune_id))
    }
    added = 0
    for hamlet, rows in HOUSEHOLDS.items():
        if hamlet not in hamlets:
            continue
        for code, head, category, zalo_id in rows:
            household = Household(
                commune_id=commune_id,
                hamlet_id=hamlets[hamlet],
                code=code,
                head_name=head,
                address=hamlet,
                category=category,
                updated_at=now,
            )
            session.add(household)
            await session.flush()
            added += 1
            if zalo_id in people:
                session.add(HouseholdMember(household_id=household.id, resident_id=people[zalo_id]))
    await session.flush()
    return added
