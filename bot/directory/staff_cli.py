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
from bot.directory.models import Commune, Hamlet, Staff, StaffRole
from bot.directory.people import UnknownCommune, select_commune
from bot.directory.roles import TERRITORIAL, role_label
from bot.directory.staffing import (
    StaffChange,
    StaffError,
    audit_staff,
    checked_phone,
    save_staff,
    set_active,
)
from bot.web.auth import close_sessions
from bot.web.passwords import hash_password, password_problem

ROLES = ", ".join(r.value for r in StaffRole)


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


async def _by_phone(session: AsyncSession, typed: str) -> Staff:
    phone = checked_phone(typed)
    staff = await session.scalar(select(Staff).where(Staff.phone == phone))
    if staff is None:
        raise StaffError({"phone": f"Không có cán bộ nào có số điện thoại {phone}."})
    return staff


async def _add(session: AsyncSession, args: argparse.Namespace, now: datetime, out: TextIO) -> None:
    commune = await select_commune(session, args.commune)
    hamlet: Hamlet | None = None
    if args.hamlet:
        hamlets = list(
            (await session.scalars(select(Hamlet).where(Hamlet.commune_id == commune.id))).all()
        )
        hamlet = hamlet_named(hamlets, args.hamlet, commune.hamlet_word)
    elif args.role in TERRITORIAL:
        word = commune.hamlet_word
        raise StaffError(
            {"hamlet": f"{role_label(args.role, word)} cần --hamlet: người đó ở {word} nào?"}
        )
    change = StaffChange(
        name=args.name,
        phone=args.phone,
        role=args.role,
        hamlet_id=hamlet.id if hamlet else None,
        zalo_id=args.zalo_id,
    )
    staff, created = await save_staff(session, commune, change, now, via="dòng lệnh")
    where = f", {hamlet.name}" if hamlet else ""
    print(
        f"Đã {'thêm' if created else 'cập nhật'} {staff.name} "
        f"({role_label(staff.role, commune.hamlet_word)}{where}), số {staff.phone}.",
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
    ended = await set_active(session, staff, False, now, via="dòng lệnh")
    print(f"Đã khoá tài khoản {staff.name}; {ended} phiên đăng nhập đã kết thúc.", file=out)


async def _enable(session: AsyncSession, typed: str, now: datetime, out: TextIO) -> None:
    staff = await _by_phone(session, typed)
    await set_active(session, staff, True, now, via="dòng lệnh")
    print(f"Đã mở lại tài khoản {staff.name}.", file=out)


def read_password() -> str:
    """The new password from stdin: asked twice at a terminal, else one line (for scripts)."""
    if sys.stdin.isatty():
        first = getpass.getpass("Mật khẩu mới: ")
        if getpass.getpass("Nhập lại mật khẩu: ") != first:
            raise StaffError({"password": "Hai lần nhập mật khẩu không giống nhau."})
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _password(session: AsyncSession, typed: str, now: datetime, out: TextIO) -> None:
    staff = await _by_phone(session, typed)
    password = read_password()
    problem = password_problem(password)
    if problem:
        raise StaffError({"password": problem})
    staff.password_hash = hash_password(password)
    # A new password ends the sessions opened with the old one.
    ended = await close_sessions(session, staff.id)
    note = f"{ended} phiên đăng nhập bị kết thúc (dòng lệnh)"
    audit_staff(session, now, staff, "password_set", note)
    print(f"Đã đặt mật khẩu cho {staff.name}.", file=out)
