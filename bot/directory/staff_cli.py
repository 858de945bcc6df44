"""`loa staff add|list|disable|password`: the commune's staff accounts, from a terminal."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.engine import Sessions
from bot.directory.hamlet_names import UnknownHamlet, hamlet_named
from bot.directory.models import AuditEntry, Commune, Hamlet, Staff, StaffRole
from bot.directory.people import UnknownCommune, select_commune
from bot.directory.phones import normalise_phone
from bot.directory.roles import TERRITORIAL, role_label
from bot.web.auth import close_sessions
from bot.web.passwords import hash_password, password_problem

ROLES = ", ".join(r.value for r in StaffRole)


class StaffError(Exception):
    """A staff command that cannot be carried out; its message is in Vietnamese."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `loa staff …` to the command line."""
    staff = sub.add_parser(
        "staff", help="the commune's staff accounts: add, list, disable, password"
    )
    cmds = staff.add_subparsers(dest="staff_command", required=True)
    add = cmds.add_parser("add", help="create a staff member, or update the one with this phone")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", required=True, help="the phone they sign in with, e.g. 0912345678")
    add.add_argument("--role", required=True, choices=[r.value for r in StaffRole], help=ROLES)
    add.add_argument("--hamlet", help="their hamlet (for hamlet_head and digital_team)")
    add.add_argument(
        "--zalo-id", help="their Zalo user id (to reach them and sign in through Zalo)"
    )
    add.add_argument("--commune", help="the commune's slug or name, when the OA serves several")
    cmds.add_parser("list", help="every staff member with role, hamlet, phone and sign-in")
    disable = cmds.add_parser("disable", help="disable an account and end its sessions")
    disable.add_argument("phone")
    enable = cmds.add_parser("enable", help="enable a disabled account again")
    enable.add_argument("phone")
    password = cmds.add_parser("password", help="set a password, read from stdin (never argv)")
    password.add_argument("phone")


async def run(args: argparse.Namespace, sessions: Sessions, now: datetime, out: TextIO) -> int:
    """Carry out one `loa staff` command; the exit code."""
    async with sessions() as session:
        try:
            if args.staff_command == "add":
                await _add(session, args, now, out)
            elif args.staff_command == "list":
                await _list(session, out)
            elif args.staff_command == "disable":
                await _disable(session, args.phone, now, out)
            elif args.staff_command == "enable":
                await _enable(session, args.phone, now, out)
            else:
                await _password(session, args.phone, now, out)
        except (StaffError, UnknownCommune, UnknownHamlet) as exc:
            await session.rollback()
            print(f"Lỗi: {exc}", file=sys.stderr)
            return 1
        await session.commit()
    return 0


def _phone(typed: str) -> str:
    phone = normalise_phone(typed)
    if phone is None:
        raise StaffError(f"Số điện thoại “{typed}” chưa đúng: cần 10 số, ví dụ 0912345678.")
    return phone


async def _by_phone(session: AsyncSession, typed: str) -> Staff:
    phone = _phone(typed)
    staff = await session.scalar(select(Staff).where(Staff.phone == phone))
    if staff is None:
        raise StaffError(f"Không có cán bộ nào có số điện thoại {phone}.")
    return staff


def _audit(session: AsyncSession, now: datetime, staff: Staff, status: str, note: str) -> None:
    session.add(
        AuditEntry(
            at=now, entity="staff", entity_id=staff.id, to_status=status, note=f"{note} (dòng lệnh)"
        )
    )


async def _add(session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO) -> None:
    phone = _phone(args.phone)
    commune = await select_commune(session, args.commune)
    role = StaffRole(args.role)
    hamlet: Hamlet | None = None
    if args.hamlet:
        hamlets = list(
            (await session.scalars(select(Hamlet).where(Hamlet.commune_id == commune.id))).all()
        )
        hamlet = hamlet_named(hamlets, args.hamlet, commune.hamlet_word)
    elif role in TERRITORIAL:
        raise StaffError(
            f"{role_label(role, commune.hamlet_word)} cần --hamlet: người đó ở {commune.hamlet_word} nào?"
        )
    name = args.name.strip()
    if not name:
        raise StaffError("Tên không được để trống.")
    staff = await session.scalar(select(Staff).where(Staff.phone == phone))
    created = staff is None
    if staff is None:
        staff = Staff(commune_id=commune.id, phone=phone, zalo_user_id=None, active=True)
        session.add(staff)
    staff.name, staff.role, staff.commune_id = name, role, commune.id
    staff.hamlet_id = hamlet.id if hamlet else None  # a disabled account stays disabled
    if args.zalo_id is not None:
        staff.zalo_user_id = args.zalo_id.strip() or None
    await session.flush()
    where = f", {hamlet.name}" if hamlet else ""
    _audit(session, now, staff, "added" if created else "updated", f"{role}{where}")
    print(
        f"Đã {'thêm' if created else 'cập nhật'} {name} ({role_label(role, commune.hamlet_word)}"
        f"{where}), số {phone}.",
        file=out,
    )


async def _list(session: AsyncSession, out: TextIO) -> None:
    rows = (
        await session.execute(
            select(Staff, Commune, Hamlet)
            .join(Commune, Commune.id == Staff.commune_id)
            .outerjoin(Hamlet, Hamlet.id == Staff.hamlet_id)
            .order_by(Commune.id, Staff.role, Staff.name)
        )
    ).all()
    if not rows:
        print("Chưa có cán bộ nào.", file=out)
    for staff, commune, hamlet in rows:
        ways = [
            w
            for w, ok in (
                ("Zalo", bool(staff.zalo_user_id)),
                ("mật khẩu", bool(staff.password_hash)),
            )
            if ok
        ]
        role = role_label(staff.role, commune.hamlet_word)
        print(
            f"{staff.phone or '(chưa có số)':<12} {staff.name} · {role}"
            f"{' · ' + hamlet.name if hamlet else ''} · đăng nhập: {', '.join(ways) or 'chưa được'}"
            f"{'' if staff.active else ' · ĐÃ KHOÁ'}",
            file=out,
        )


async def _disable(session: AsyncSession, typed: str, now: datetime, out: TextIO) -> None:
    staff = await _by_phone(session, typed)
    staff.active = False
    ended = await close_sessions(session, staff.id)
    _audit(session, now, staff, "disabled", f"{ended} phiên đăng nhập bị kết thúc")
    print(f"Đã khoá tài khoản {staff.name}; {ended} phiên đăng nhập đã kết thúc.", file=out)


async def _enable(session: AsyncSession, typed: str, now: datetime, out: TextIO) -> None:
    staff = await _by_phone(session, typed)
    staff.active = True
    _audit(session, now, staff, "enabled", "mở lại tài khoản")
    print(f"Đã mở lại tài khoản {staff.name}.", file=out)


def read_password() -> str:
    """The new password from stdin: asked twice at a terminal, else one line (for scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Mật khẩu mới: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != first:
            raise StaffError("Hai lần nhập mật khẩu không giống nhau.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _password(session: AsyncSession, typed: str, now: datetime, out: TextIO) -> None:
    staff = await _by_phone(session, typed)
    password = read_password()
    problem = password_problem(password)
    if problem:
        raise StaffError(problem)
    staff.password_hash = hash_password(password)
    # A new password ends the sessions opened with the old one.
    ended = await close_sessions(session, staff.id)
    _audit(session, now, staff, "password_set", f"{ended} phiên đăng nhập bị kết thúc")
    print(f"Đã đặt mật khẩu cho {staff.name}.", file=out)
