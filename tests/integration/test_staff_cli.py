"""`loa staff`: accounts created, listed, given a password from stdin, disabled, as an admin types it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import AuditEntry, Staff
from bot.sandbox.seed import seed_demo
from bot.web.auth import open_session
from bot.web.models import WebSession
from bot.web.passwords import verify_password
from tests.integration.test_cli import loa


async def demo_database(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = {"LOA_DATABASE_URL": database_url}
    assert loa(["db", "upgrade"], env, cwd=tmp_path).returncode == 0
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await seed_demo(session, FakeClock().now())
            await session.commit()
    finally:
        await engine.dispose()
    return env


async def staff_with_phone(database_url: str, phone: str) -> Staff | None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await session.scalar(select(Staff).where(Staff.phone == phone))
    finally:
        await engine.dispose()


async def test_staff_are_added_listed_given_a_password_and_disabled(
    database_url: str, tmp_path: Path
) -> None:
    env = await demo_database(database_url, tmp_path)
    added = loa(
        ["staff", "add", "--name", "Trần Văn Tư", "--phone", "+84 912.345.678",
         "--role", "hamlet_head", "--hamlet", "tan lap"],
        env,
        cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Đã thêm Trần Văn Tư (Trưởng ấp, Ấp Tân Lập), số 0912345678." in added.stdout
    staff = await staff_with_phone(database_url, "0912345678")
    assert staff is not None and staff.zalo_user_id is None and staff.password_hash is None

    # A second person without a Zalo id yet is a second account, not a clash.
    second = loa(
        ["staff", "add", "--name", "Lê Thị Năm", "--phone", "0912345679", "--role", "official"],
        env,
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr

    # The same phone again updates the person instead of adding a second one.
    again = loa(
        ["staff", "add", "--name", "Trần Văn Tư", "--phone", "0912345678",
         "--role", "digital_team", "--hamlet", "Ấp Hòa Bình", "--zalo-id", "3000000000000000099"],
        env,
        cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 0 and "Đã cập nhật" in again.stdout

    weak = loa(["staff", "password", "0912345678"], env, stdin="ngan\n", cwd=tmp_path)
    assert weak.returncode == 1 and "ít nhất 8 ký tự" in weak.stderr
    set_pw = loa(
        ["staff", "password", "0912345678"], env, stdin="mat-khau-moi-2026\n", cwd=tmp_path
    )
    assert set_pw.returncode == 0, set_pw.stderr
    staff = await staff_with_phone(database_url, "0912345678")
    assert staff is not None and staff.password_hash
    assert "mat-khau-moi-2026" not in staff.password_hash
    assert verify_password(staff.password_hash, "mat-khau-moi-2026")

    listed = loa(["staff", "list"], env, cwd=tmp_path)
    line = next(ln for ln in listed.stdout.splitlines() if "Trần Văn Tư" in ln)
    assert "Tổ công nghệ số cộng đồng · Ấp Hòa Bình" in line and "Zalo, mật khẩu" in line

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            await open_session(session, staff, FakeClock().now(), "127.0.0.1")
            await session.commit()
    finally:
        await engine.dispose()
    disabled = loa(["staff", "disable", "0912 345 678"], env, cwd=tmp_path)
    assert disabled.returncode == 0 and "1 phiên đăng nhập đã kết thúc" in disabled.stdout
    assert "ĐÃ KHOÁ" in loa(["staff", "list"], env, cwd=tmp_path).stdout
    # Updating a disabled account does not open it again; only `enable` does.
    loa(["staff", "add", "--name", "Trần Văn Tư", "--phone", "0912345678", "--role", "official"],
        env, cwd=tmp_path)  # fmt: skip
    assert (await staff_with_phone(database_url, "0912345678")).active is False  # type: ignore[union-attr]
    enabled = loa(["staff", "enable", "0912345678"], env, cwd=tmp_path)
    assert enabled.returncode == 0 and "Đã mở lại" in enabled.stdout
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            assert (await session.scalars(select(WebSession))).all() == []
            notes = (
                await session.scalars(
                    select(AuditEntry.to_status)
                    .where(AuditEntry.entity == "staff")
                    .order_by(AuditEntry.id)
                )
            ).all()
    finally:
        await engine.dispose()
    assert notes == ["added", "added", "updated", "password_set", "disabled", "updated", "enabled"]


async def test_bad_staff_commands_say_why_and_change_nothing(
    database_url: str, tmp_path: Path
) -> None:
    env = await demo_database(database_url, tmp_path)
    cases = [
        (["--phone", "12345", "--role", "official"], "Số điện thoại “12345” chưa đúng"),
        (["--phone", "0912000111", "--role", "hamlet_head"], "Trưởng ấp cần --hamlet"),
        (["--phone", "0912000111", "--role", "hamlet_head", "--hamlet", "Ấp Không Có"],
         "Không có ấp “Ấp Không Có”"),
    ]  # fmt: skip
    for extra, message in cases:
        result = loa(["staff", "add", "--name", "Ai Đó", *extra], env, cwd=tmp_path)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    assert await staff_with_phone(database_url, "0912000111") is None
    missing = loa(["staff", "password", "0999999999"], env, stdin="mat-khau-dai\n", cwd=tmp_path)
    assert missing.returncode == 1 and "Không có cán bộ nào có số điện thoại 0999999999" in (
        missing.stderr
    )
    # A password on the command line (seen by `ps`, kept in shell history) is refused.
    in_argv = loa(["staff", "password", "0901000007", "mat-khau-dai"], env, cwd=tmp_path)
    assert in_argv.returncode == 2 and "unrecognized arguments" in in_argv.stderr
