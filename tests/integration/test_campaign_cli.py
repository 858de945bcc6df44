"""`loa campaign …` as an official types it: sends numbered in their campaign, refusals that say why."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select, update

from bot.__main__ import _parser
from bot.clock import FakeClock
from bot.config import Settings
from bot.db.engine import Sessions, make_engine, make_sessionmaker
from bot.directory.models import AuditEntry, Commune
from bot.outbound.models import OutboundMessage
from bot.sandbox.seed import seed_demo
from broadcasts.cli.campaigns import run
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status
from tests.desk import Visitor
from tests.service import running_service

OFFICIAL = "3000000000000000007"
TAN_LAP_HEAD = "3000000000000000001"
HAMLETS = "Ấp Tân Lập, Ấp Tân Thạnh, Ấp Hòa Bình, Ấp Phú Lợi"


@dataclass
class Cli:
    """The demo commune's database, and `loa campaign …` run against it on a fake clock."""

    sessions: Sessions
    settings: Settings
    clock: FakeClock
    err: pytest.CaptureFixture[str]

    async def __call__(self, *argv: str, commune: str | None = None) -> tuple[int, str, str]:
        """Exit code, standard output and standard error of one command."""
        chosen = ["--commune", commune] if commune else []
        args = _parser().parse_args(["campaign", *chosen, *argv])
        out = io.StringIO()
        self.err.readouterr()
        code = await run(args, self.settings, self.sessions, out, self.clock)
        return code, out.getvalue(), self.err.readouterr().err

    async def meeting(self, title: str, at: str) -> None:
        """An official announces a meeting to every hamlet."""
        code, _, err = await self(
            "create", "--by", OFFICIAL, "--title", title, "--template", "thong-bao-chung",
            "--var", "title=Họp dân", "--var", "body=Mời bà con dự họp.", "--at", at,
        )  # fmt: skip
        assert code == 0, err

    async def count(self, model: type[object]) -> int:
        async with self.sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def cli(database_url: str, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Cli]:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    clock = FakeClock()  # Monday 02/11/2026, 9h in Vietnam
    async with sessions() as s:
        await seed_demo(s, clock.now())
        await s.commit()
    yield Cli(sessions, Settings.from_env({"LOA_DATABASE_URL": database_url}), clock, capsys)
    await engine.dispose()


async def test_a_campaigns_first_send_is_its_send_1_and_commands_take_the_id_shown(
    cli: Cli,
) -> None:
    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    await cli.meeting("Họp tổ tự quản", "6/11 19h30")
    async with cli.sessions() as s:
        second = await s.scalar(select(Broadcast).join(Campaign).where(Campaign.id == 2))
        assert second is not None
    code, shown, _ = await cli("show", "2")
    assert code == 0
    line = shown.splitlines()[1]
    assert line.startswith("  Lần gửi 1 lúc 19h30 thứ Sáu 06/11/2026"), line
    assert f"mã lần gửi {second.id}" in line and f"mã xác thực {second.code}" in line
    assert "Lần gửi 2" not in shown

    # The id shown is the one the commands take, and their answers name the send the same way.
    code, said, err = await cli(
        "approve", str(second.id), "--hamlet", "tan lap", "--by", TAN_LAP_HEAD
    )
    assert code == 0, err
    assert said == (
        f"Đã ghi nhận duyệt cho Ấp Tân Lập: “Họp tổ tự quản”, lần gửi 1 (mã lần gửi {second.id}).\n"
    )
    async with cli.sessions() as s:
        approval = await s.scalar(
            select(HamletApproval).where(
                HamletApproval.broadcast_id == second.id, HamletApproval.hamlet_id == 1
            )
        )
        assert approval is not None and approval.status == Status.APPROVED


async def test_the_desks_log_names_a_send_as_the_command_line_does(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        cli = Cli(svc.runtime.sessions, svc.runtime.settings, clock, capsys)
        await cli.meeting("Họp dân tháng 11", "5/11 19h30")
        await cli.meeting("Họp tổ tự quản", "6/11 19h30")
        code, _, err = await cli("cancel", "2", "--by", OFFICIAL)
        assert code == 0, err
        async with svc.runtime.sessions() as s:
            firing = await s.scalar(select(Broadcast.id).where(Broadcast.campaign_id == 2))
        assert await office.sign_in() == 303
        _, page, _ = await office.get("/admin/audit?entity=broadcast")
    table = page[page.index('<table id="audit">') : page.index("</table>")]
    assert f"lần gửi: Họp tổ tự quản, lần 1 (mã lần gửi {firing})" in table
    assert "số" not in table


@pytest.mark.parametrize(
    "argv",
    [
        ["approve", "99", "--hamlet", "Tân Lập", "--by", TAN_LAP_HEAD],
        ["approve", "99", "--hamlet", "Tân Lập", "--by", TAN_LAP_HEAD, "--reject", "sai ngày"],
        ["retry", "99", "--by", OFFICIAL],
        ["resend", "99", "--by", OFFICIAL],
        ["seen", "99", "--hamlet", "Tân Lập", "--by", OFFICIAL],
        ["offline", "99", "--household", "TL-01", "--method", "meeting", "--by", TAN_LAP_HEAD],
    ],
)
async def test_a_send_that_does_not_exist_is_named_and_nothing_changes(
    cli: Cli, argv: list[str]
) -> None:
    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    before = (await cli.count(AuditEntry), await cli.count(OutboundMessage))
    code, said, err = await cli(*argv)
    assert code == 1 and said == ""
    assert err == "Không có lần gửi mã 99.\n"
    assert (await cli.count(AuditEntry), await cli.count(OutboundMessage)) == before


@pytest.mark.parametrize("argv", [["show", "99"], ["cancel", "99", "--by", OFFICIAL]])
async def test_a_campaign_that_does_not_exist_is_named_and_nothing_changes(
    cli: Cli, argv: list[str]
) -> None:
    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    before = await cli.count(AuditEntry)
    code, said, err = await cli(*argv)
    assert (code, said, err) == (1, "", "Không có đợt thông báo số 99.\n")
    assert await cli.count(AuditEntry) == before


async def test_another_communes_send_is_not_this_communes(cli: Cli) -> None:
    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    async with cli.sessions() as s:
        other = Commune(
            slug="phu-an", name="Xã Phú An", hamlet_word="thôn", created_at=cli.clock.now()
        )
        s.add(other)
        await s.flush()
        await s.execute(update(Campaign).values(commune_id=other.id))
        await s.commit()
        firing = await s.scalar(select(Broadcast.id))
    code, _, err = await cli("retry", str(firing), "--by", OFFICIAL, commune="tan-hoa")
    assert (code, err) == (1, f"Không có lần gửi mã {firing}.\n")


async def test_an_unknown_hamlet_is_echoed_as_typed_with_the_communes_own_word_and_choices(
    cli: Cli,
) -> None:
    async with cli.sessions() as s:
        await s.execute(update(Commune).values(hamlet_word="thôn"))
        await s.commit()
    code, said, err = await cli(
        "create", "--by", OFFICIAL, "--title", "Họp", "--template", "thong-bao-chung",
        "--var", "title=Họp", "--var", "body=Mời họp.", "--at", "5/11 19h30",
        "--hamlets", "Tân Lập, Ấp KHÔNG Có",
    )  # fmt: skip
    assert (code, said) == (1, "")
    assert f"Không có thôn “Ấp KHÔNG Có”. Các thôn của xã: {HAMLETS}." in err
    assert await cli.count(Campaign) == 0

    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    code, _, err = await cli("approve", "1", "--hamlet", "Thôn Xa  Lắm", "--by", TAN_LAP_HEAD)
    assert code == 1
    assert err == f"Không có thôn “Thôn Xa  Lắm”. Các thôn của xã: {HAMLETS}.\n"


async def test_an_unknown_household_group_is_echoed_as_typed_with_the_choices(cli: Cli) -> None:
    code, _, err = await cli(
        "create", "--by", OFFICIAL, "--title", "Họp", "--template", "thong-bao-chung",
        "--var", "title=Họp", "--var", "body=Mời họp.", "--at", "5/11 19h30",
        "--categories", "nghèo, Hộ Khá Giả",
    )  # fmt: skip
    assert code == 1
    assert (
        "Không có nhóm hộ “Hộ Khá Giả”. Các nhóm hộ: nghèo, cận nghèo, mới thoát nghèo, khác."
        in err
    )


async def test_the_heads_are_named_with_the_communes_word_and_next_weeks_friday_is_read(
    cli: Cli,
) -> None:
    async with cli.sessions() as s:
        await s.execute(update(Commune).values(hamlet_word="thôn"))
        await s.commit()
    code, said, err = await cli(
        "create", "--by", OFFICIAL, "--title", "Họp", "--template", "thong-bao-chung",
        "--var", "title=Họp", "--var", "body=Mời họp.", "--at", "thứ sáu tuần sau 19h30",
    )  # fmt: skip
    assert code == 0, err
    assert said == (
        "Đã tạo đợt thông báo số 1: “Họp”, lần gửi đầu lúc 19h30 thứ Sáu 13/11/2026; "
        "đã gửi yêu cầu duyệt tới các trưởng thôn.\n"
    )


async def test_a_refused_approval_names_the_hamlet_and_its_approver(cli: Cli) -> None:
    await cli.meeting("Họp dân tháng 11", "5/11 19h30")
    async with cli.sessions() as s:
        firing = await s.scalar(select(Broadcast))
        assert firing is not None
    argv = ("approve", str(firing.id), "--hamlet", "Tân Thạnh", "--by", TAN_LAP_HEAD)
    code, _, err = await cli(*argv)
    assert code == 1
    assert "không duyệt được cho Ấp Tân Thạnh: người duyệt là Trần Thị Mai" in err
    assert "ấp này" not in err
    code, _, _ = await cli("approve", str(firing.id), "--hamlet", "Tân Lập", "--by", TAN_LAP_HEAD)
    assert code == 0
    code, _, err = await cli("approve", str(firing.id), "--hamlet", "Tân Lập", "--by", TAN_LAP_HEAD)
    assert code == 1 and "Ấp Tân Lập đã được trả lời rồi" in err
