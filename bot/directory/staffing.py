"""Adding, changing and disabling staff accounts: one set of rules for `loa staff` and the desk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry, Commune, Hamlet, Staff, StaffRole
from bot.directory.phones import normalise_phone
from bot.directory.roles import TERRITORIAL, role_label
from bot.web.auth import close_sessions


class StaffError(Exception):
    """A staff change that cannot be made; `problems` names each by the field it concerns."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(" ".join(problems.values()))
        self.problems = problems


@dataclass
class StaffChange:
    """What is asked of one account: who they are, their role and hamlet, how Zalo knows them."""

    name: str
    phone: str
    role: str
    hamlet_id: int | None = None
    zalo_id: str | None = None  # None: leave as it is; "": not on Zalo


def checked_phone(typed: str) -> str:
    """The phone as stored (0xxxxxxxxx); StaffError when it is not a Vietnamese mobile number."""
    phone = normalise_phone(typed)
    if phone is None:
        raise StaffError(
            {"phone": f"Số điện thoại “{typed}” chưa đúng: cần 10 số, ví dụ 0912345678."}
        )
    return phone


def audit_staff(
    session: AsyncSession,
    now: datetime,
    staff: Staff,
    status: str,
    note: str,
    actor_id: int | None = None,
) -> None:
    """One line in the audit log about a staff account."""
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=actor_id,
            entity="staff",
            entity_id=staff.id,
            to_status=status,
            note=note[:500],
        )
    )


async def save_staff(
    session: AsyncSession,
    commune: Commune,
    change: StaffChange,
    now: datetime,
    *,
    staff_id: int | None = None,
    actor_id: int | None = None,
    via: str = "trang quản trị",
    new_only: bool = False,
) -> tuple[Staff, bool]:
    """Create the account with this phone, or update it (or the one `staff_id` names); audited.

    With `new_only` a phone that is already someone's is refused rather than taken over.
    Returns the account and whether it is new. Every problem is found before anything changes."""
    problems: dict[str, str] = {}
    word = commune.hamlet_word
    name = change.name.strip()
    if not name:
        problems["name"] = "Xin ghi họ tên."
    phone = normalise_phone(change.phone)
    if phone is None:
        problems["phone"] = (
            f"Số điện thoại “{change.phone}” chưa đúng: cần 10 số, ví dụ 0912345678."
            if change.phone.strip()
            else "Xin ghi số điện thoại (10 số, ví dụ 0912345678)."
        )
    known = {r.value for r in StaffRole}
    if change.role not in known:
        problems["role"] = "Xin chọn vai trò."
    hamlet: Hamlet | None = None
    if change.hamlet_id is not None:
        hamlet = await session.get(Hamlet, change.hamlet_id)
        if hamlet is None or hamlet.commune_id != commune.id:
            problems["hamlet"] = f"Không có {word} này trong xã."
    elif change.role in TERRITORIAL:
        problems["hamlet"] = (
            f"{role_label(change.role, word)} cần chọn {word}: người đó ở {word} nào?"
        )
    target = await session.get(Staff, staff_id) if staff_id is not None else None
    if staff_id is not None and (target is None or target.commune_id != commune.id):
        problems["staff"] = "Không có tài khoản này."
    if phone is not None:
        owner = await session.scalar(select(Staff).where(Staff.phone == phone))
        if owner is not None and new_only:
            problems["phone"] = (
                f"Số {phone} đã là của {owner.name}. Muốn đổi tài khoản đó, "
                f"bấm “Sửa” ở dòng của {owner.name} trong danh sách."
            )
        elif target is None and staff_id is None:
            target = owner
        elif owner is not None and owner.id != (target.id if target else None):
            problems["phone"] = f"Số {phone} đã là của {owner.name}."
    zalo_id = change.zalo_id.strip() if change.zalo_id is not None else None
    if zalo_id and not (zalo_id.isascii() and zalo_id.isdigit() and len(zalo_id) <= 32):
        problems["zalo_id"] = (
            f"Mã Zalo “{zalo_id[:40]}” chưa đúng: mã chỉ gồm chữ số. Chưa biết mã thì để trống, "
            "rồi bấm “Tạo mã liên kết Zalo” ở danh sách cán bộ."
        )
    elif zalo_id:
        holder = await session.scalar(
            select(Staff).where(Staff.commune_id == commune.id, Staff.zalo_user_id == zalo_id)
        )
        if holder is not None and holder.id != (target.id if target else None):
            problems["zalo_id"] = f"Mã Zalo này đã là của {holder.name}."
    if problems:
        raise StaffError(problems)
    assert phone is not None
    created = target is None
    staff = target or Staff(commune_id=commune.id, phone=phone, zalo_user_id=None, active=True)
    if created:
        session.add(staff)
    staff.name, staff.role, staff.commune_id, staff.phone = name, change.role, commune.id, phone
    staff.hamlet_id = hamlet.id if hamlet else None  # a disabled account stays disabled
    if zalo_id is not None:
        staff.zalo_user_id = zalo_id or None
    await session.flush()
    where = f", {hamlet.name}" if hamlet else ""
    note = f"{role_label(change.role, word)}{where}, số {phone} ({via})"
    audit_staff(session, now, staff, "added" if created else "updated", note, actor_id)
    return staff, created


async def set_active(
    session: AsyncSession,
    staff: Staff,
    active: bool,
    now: datetime,
    *,
    actor_id: int | None = None,
    via: str = "trang quản trị",
) -> int:
    """Disable (ending every session at once) or enable an account; sessions ended."""
    if actor_id is not None and actor_id == staff.id and not active:
        raise StaffError({"staff": "Không tự khoá tài khoản của mình được."})
    staff.active = active
    ended = await close_sessions(session, staff.id) if not active else 0
    if active:
        audit_staff(session, now, staff, "enabled", f"mở lại tài khoản ({via})", actor_id)
    else:
        note = f"{ended} phiên đăng nhập bị kết thúc ({via})"
        audit_staff(session, now, staff, "disabled", note, actor_id)
    return ended
