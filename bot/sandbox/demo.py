"""The demo commune: seeded into an empty database and into the sandbox's Zalo users."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoPerson:
    """A Zalo user of the demo: a resident or a staff member."""

    zalo_user_id: str
    name: str
    hamlet: str | None = None  # hamlet name; None for commune-level people
    role: str | None = None  # a StaffRole value for staff, None for residents
    follower: bool = True
    phone: str | None = None  # staff: the phone the desk knows them by


COMMUNE_SLUG = "tan-hoa"
DEMO_PASSWORD = "loa-ap-demo"  # the demo's officials' desk password (sandbox only)
COMMUNE_NAME = "Xã Tân Hòa"
HAMLET_WORD = "ấp"
COMMUNE_GROUP_ID = "5000000000000000100"

# (name, language, OA-owned group id)
HAMLETS: tuple[tuple[str, str, str], ...] = (
    ("Ấp Tân Lập", "vi", "5000000000000000101"),
    ("Ấp Tân Thạnh", "vi", "5000000000000000102"),
    ("Ấp Hòa Bình", "vi", "5000000000000000103"),
    ("Ấp Phú Lợi", "km", "5000000000000000104"),
)

PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "3000000000000000001", "Nguyễn Văn Hùng", "Ấp Tân Lập", "hamlet_head", phone="0901000001"
    ),
    DemoPerson(
        "3000000000000000002", "Trần Thị Mai", "Ấp Tân Thạnh", "hamlet_head", phone="0901000002"
    ),
    DemoPerson(
        "3000000000000000003", "Lê Văn Phúc", "Ấp Hòa Bình", "hamlet_head", phone="0901000003"
    ),
    DemoPerson(
        "3000000000000000004", "Thạch Sô Phên", "Ấp Phú Lợi", "hamlet_head", phone="0901000004"
    ),
    DemoPerson(
        "3000000000000000005", "Phạm Minh Tuấn", "Ấp Tân Lập", "digital_team", phone="0901000005"
    ),
    DemoPerson(
        "3000000000000000006", "Võ Thị Lan", "Ấp Hòa Bình", "digital_team", phone="0901000006"
    ),
    DemoPerson("3000000000000000007", "Đặng Quốc Bảo", None, "official", phone="0901000007"),
    DemoPerson("3000000000000000008", "Huỳnh Thanh Tâm", None, "admin", phone="0901000008"),
    DemoPerson("4000000000000000001", "Bà Sáu Nguyễn Thị Sáu", "Ấp Tân Lập"),
    DemoPerson("4000000000000000002", "Chú Bảy Lê Văn Bảy", "Ấp Tân Lập"),
    DemoPerson("4000000000000000003", "Chị Hai Trần Thị Hoa", "Ấp Tân Thạnh"),
    DemoPerson("4000000000000000004", "Anh Tư Nguyễn Văn Tư", "Ấp Hòa Bình"),
    DemoPerson("4000000000000000005", "Cô Năm Phạm Thị Năm", "Ấp Phú Lợi"),
    DemoPerson("4000000000000000006", "Em Út Lý Văn Út", None),
)


def group_link(group_id: str) -> str:
    """The invite link the sandbox gives a group, known to the demo's seed from the start."""
    return f"https://zalo.me/g/sandbox{group_id[-6:]}"
