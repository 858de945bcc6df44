"""The OA's hamlet and commune groups through the sandbox: create, refuse, list, sync, poster, membership."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import segno
from sqlalchemy import select

from bot.__main__ import _parser
from bot.clock import FakeClock, epoch_ms
from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole
from bot.inbound.events import GroupMembership, Unknown, dedupe_key, parse_event
from bot.inbound.models import InboxEvent
from broadcasts.cli import groups as groups_cli
from broadcasts.groups import QR_ERROR_LEVEL
from broadcasts.models import GroupMember
from tests.service import Service, running_service

HEAD_TL, DIGITAL_TL, HEAD_HB = "3000000000000000001", "3000000000000000005", "3000000000000000003"
CHI_HAI, UT, NEWCOMER = "4000000000000000003", "4000000000000000006", "4000000000000000099"
TAN_LAP_GROUP = "5000000000000000101"
COMMUNE_GROUP = "5000000000000000100"


async def loa_groups(svc: Service, *args: str) -> tuple[int, str, str]:
    """Run `loa groups …` against the running service's database and sandbox."""
    out, err = io.StringIO(), io.StringIO()
    parsed = _parser().parse_args(["groups", *args])
    code = await groups_cli.run(
        parsed, svc.runtime.settings, svc.runtime.sessions, out, err, zalo=svc.runtime.zalo
    )
    return code, out.getvalue(), err.getvalue()


async def hamlet(svc: Service, name: str) -> Hamlet:
    async with svc.runtime.sessions() as s:
        row = await s.scalar(select(Hamlet).where(Hamlet.name == name))
        assert row is not None
        return row


async def forget_group(svc: Service, name: str) -> None:
    """The hamlet as if it never had a group (a new hamlet, or a group lost long ago)."""
    async with svc.runtime.sessions() as s:
        row = await s.scalar(select(Hamlet).where(Hamlet.name == name))
        assert row is not None
        row.group_id = row.group_link = None
        await s.commit()


async def lose_link(svc: Service, name: str) -> None:
    """The hamlet's group known by id only (made in the Zalo app, not yet synced)."""
    async with svc.runtime.sessions() as s:
        row = await s.scalar(select(Hamlet).where(Hamlet.name == name))
        assert row is not None
        row.group_link = None
        await s.commit()


async def members(svc: Service, group_id: str) -> dict[str, GroupMember]:
    async with svc.runtime.sessions() as s:
        rows = (await s.scalars(select(GroupMember).where(GroupMember.group_id == group_id))).all()
        return {r.zalo_user_id: r for r in rows}


async def resident_hamlet(svc: Service, zalo_id: str) -> int | None:
    async with svc.runtime.sessions() as s:
        resident = await s.scalar(select(Resident).where(Resident.zalo_user_id == zalo_id))
        assert resident is not None
        return resident.hamlet_id


async def control(svc: Service, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{svc.base_url}/sandbox/api/groups/{group_id}/membership"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        assert resp.status == 200, await resp.text()
        result: dict[str, Any] = await resp.json()
        return result


async def test_create_a_hamlet_group_refuse_a_second_and_explain_a_missing_asset(
    database_url: str,
) -> None:
    async with running_service(database_url) as svc:
        await forget_group(svc, "Ấp Tân Lập")
        before = set(svc.platform.groups)

        code, out, err = await loa_groups(svc, "create", "--hamlet", "tan lap")
        assert code == 0, err
        row = await hamlet(svc, "Ấp Tân Lập")
        assert row.group_id and row.group_id not in before and row.group_link
        assert row.group_link in out and f"/groups/{row.id}/poster" in out
        created = svc.platform.groups[row.group_id]
        assert created.members == [HEAD_TL, DIGITAL_TL]  # the head and the digital team start it
        assert created.asset_type == "gmf1000" and created.name == "Ấp Tân Lập - Xã Tân Hòa"
        assert svc.platform.group_assets[created.asset_id].status == "used"
        assert set(await members(svc, row.group_id)) == {HEAD_TL, DIGITAL_TL}

        # A second group for the same hamlet is refused in Vietnamese, and nothing changes.
        code, out, err = await loa_groups(svc, "create", "--hamlet", "Ấp Tân Lập")
        assert code == 1 and "đã có nhóm Zalo" in err and row.group_id in err
        assert (await hamlet(svc, "Ấp Tân Lập")).group_id == row.group_id
        assert len(svc.platform.groups) == len(before) + 1

        # The only spare gmf1000 asset is taken: another hamlet is told why, nothing is created.
        await forget_group(svc, "Ấp Hòa Bình")
        code, out, err = await loa_groups(svc, "create", "--hamlet", "hoa binh")
        assert code == 1 and "gói nhóm chat" in err and "gmf1000" in err
        assert (await hamlet(svc, "Ấp Hòa Bình")).group_id is None
        assert len(svc.platform.groups) == len(before) + 1

        # An unknown hamlet is named back with the ones that exist.
        code, _, err = await loa_groups(svc, "create", "--hamlet", "Không Có")
        assert code == 1 and "Ấp Tân Lập" in err

        # The commune's group fits on a gmf100 asset, with every active staff member in it.
        async with svc.runtime.sessions() as s:
            commune = await s.scalar(select(Commune))
            assert commune is not None
            commune.group_id = None
            await s.commit()
        code, out, err = await loa_groups(svc, "create", "--commune")
        assert code == 0, err
        async with svc.runtime.sessions() as s:
            commune = await s.scalar(select(Commune))
            assert commune is not None and commune.group_id and commune.group_link
        commune_group = svc.platform.groups[commune.group_id]
        assert commune_group.asset_type == "gmf100" and HEAD_HB in commune_group.members

        # The list shows what Zalo says now: id, name, status, member count, link.
        svc.platform.groups[TAN_LAP_GROUP].status = "disabled"  # the old group's plan lapsed
        code, out, err = await loa_groups(svc, "list")
        assert code == 0, err
        block = out.split("Ấp Tân Lập\n")[1].split("\nẤp ")[0]
        assert row.group_id in block and row.group_link in block and "đang hoạt động" in block
        assert "Thành viên:    2" in block and "Ấp Tân Lập - Xã Tân Hòa" in block
        assert "Ấp Hòa Bình\n  Mã nhóm:       -" in out and "chưa có nhóm" in out


async def test_poster_and_qr_file_carry_the_group_link(database_url: str, tmp_path: Path) -> None:
    async with running_service(database_url) as svc:
        await forget_group(svc, "Ấp Tân Lập")
        code, _, err = await loa_groups(svc, "create", "--hamlet", "Tân Lập")
        assert code == 0, err
        row = await hamlet(svc, "Ấp Tân Lập")
        assert row.group_link

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{svc.base_url}/groups/{row.id}/poster") as resp:
                assert resp.status == 200 and resp.content_type == "text/html"
                page = await resp.text()
            await lose_link(svc, "Ấp Hòa Bình")
            no_link = await hamlet(svc, "Ấp Hòa Bình")
            async with http.get(f"{svc.base_url}/groups/{no_link.id}/poster") as resp:
                assert resp.status == 404 and "chưa có nhóm Zalo" in await resp.text()
            async with http.get(f"{svc.base_url}/groups/999/poster") as resp:
                assert resp.status == 404

        assert "<h1>Ấp Tân Lập</h1>" in page and "Quét mã để vào nhóm Zalo của ấp" in page
        assert row.group_link in page and "OTP" in page and "chuyển tiền" in page
        assert "@page" in page and "A4" in page
        svg = re.search(r"<svg[^>]*>.*?</svg>", page, re.S)
        assert svg is not None
        # The drawn modules are exactly those of a QR code of the stored link (and of no other link).
        drawn = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg.group(0))
        expected = re.search(
            r' d="([^"]+)"', segno.make(row.group_link, error=QR_ERROR_LEVEL).svg_inline()
        )
        other = re.search(
            r' d="([^"]+)"', segno.make(row.group_link + "x", error=QR_ERROR_LEVEL).svg_inline()
        )
        assert drawn and expected and other
        assert drawn.group(1) == expected.group(1) != other.group(1)

        code, out, err = await loa_groups(
            svc, "qr", "--hamlet", "tan lap", "--out", str(tmp_path / "tl.svg")
        )
        assert code == 0 and "Đã lưu mã QR" in out, err
        assert (
            (tmp_path / "tl.svg").read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
        )
        code, _, err = await loa_groups(
            svc, "qr", "--hamlet", "tan lap", "--out", str(tmp_path / "tl.png")
        )
        assert code == 0 and (tmp_path / "tl.png").read_bytes().startswith(b"\x89PNG")
        code, _, err = await loa_groups(
            svc, "qr", "--hamlet", "tan lap", "--out", str(tmp_path / "tl.jpg")
        )
        assert code == 1 and ".svg hoặc .png" in err
        code, _, err = await loa_groups(
            svc, "qr", "--hamlet", "hoa binh", "--out", str(tmp_path / "hb.svg")
        )
        assert code == 1 and "chưa có đường dẫn mời" in err and not (tmp_path / "hb.svg").exists()


async def test_join_and_leave_events_keep_members_and_link_the_resident_hamlet(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        tan_lap, tan_thanh = await hamlet(svc, "Ấp Tân Lập"), await hamlet(svc, "Ấp Tân Thạnh")
        assert await resident_hamlet(svc, UT) is None  # Út never told the bot his hamlet

        # Joins under each source's name and id key, two of them in the same millisecond.
        await control(svc, TAN_LAP_GROUP, {"user_id": UT, "action": "join"})
        await control(
            svc,
            TAN_LAP_GROUP,
            {
                "user_id": CHI_HAI,
                "action": "join",
                "event_name": "accept_request_join_group",
                "id_key": "user_id",
            },
        )
        svc.platform.add_user(NEWCOMER, "Anh Mười Mới Về")
        await control(
            svc,
            TAN_LAP_GROUP,
            {
                "user_id": NEWCOMER,
                "action": "join",
                "event_name": "react_request_join_group_accept",
            },
        )
        await svc.settled()
        rows = await members(svc, TAN_LAP_GROUP)
        assert {UT, CHI_HAI, NEWCOMER} <= set(rows)
        assert all(
            rows[u].joined_at == clock.now() and rows[u].left_at is None
            for u in (UT, CHI_HAI, NEWCOMER)
        )
        assert await resident_hamlet(svc, UT) == tan_lap.id  # linked by joining
        assert (
            await resident_hamlet(svc, NEWCOMER) == tan_lap.id
        )  # a stranger becomes a known resident
        assert await resident_hamlet(svc, CHI_HAI) == tan_thanh.id  # her own choice stays
        assert {UT, CHI_HAI, NEWCOMER} <= set(svc.platform.groups[TAN_LAP_GROUP].members)

        # Leaving, under both names; the sandbox emitted the documented flat shape.
        clock.advance(timedelta(hours=1))
        left = await control(
            svc, TAN_LAP_GROUP, {"user_id": UT, "action": "leave", "event_name": "user_leave_group"}
        )
        assert left["event"]["group_id"] == TAN_LAP_GROUP and left["event"]["users"] == [{"id": UT}]
        await control(svc, TAN_LAP_GROUP, {"user_id": CHI_HAI, "action": "leave"})
        await svc.settled()
        rows = await members(svc, TAN_LAP_GROUP)
        assert rows[UT].left_at == clock.now() and rows[CHI_HAI].left_at == clock.now()
        assert rows[NEWCOMER].left_at is None
        assert await resident_hamlet(svc, UT) == tan_lap.id  # leaving does not unlink the hamlet
        assert UT not in svc.platform.groups[TAN_LAP_GROUP].members

        # Joining the commune's group links no hamlet; an unreadable shape stays unknown, and is stored.
        await control(svc, COMMUNE_GROUP, {"user_id": NEWCOMER, "action": "join"})
        odd = {
            "app_id": svc.platform.app_id,
            "event_name": "user_join_group",
            "timestamp": "1",
            "group_id": "1",
        }
        await svc.platform.emit(odd)
        await svc.settled()
        assert NEWCOMER in await members(svc, COMMUNE_GROUP)
        assert await members(svc, "1") == {}
        async with svc.runtime.sessions() as s:
            assert await s.scalar(
                select(InboxEvent.id).where(InboxEvent.dedupe_key == dedupe_key(odd))
            )

        # A join that happened before the leave but arrives after it (Zalo retries late) changes nothing.
        late = {
            "app_id": svc.platform.app_id,
            "oa_id": svc.platform.oa_id,
            "event_name": "user_join_group",
            "timestamp": epoch_ms(clock.now() - timedelta(minutes=30)),
            "group_id": TAN_LAP_GROUP,
            "users": [{"id": UT}],
        }
        await svc.platform.emit(late)
        await svc.settled()
        assert (await members(svc, TAN_LAP_GROUP))[UT].left_at == clock.now()


async def test_sync_fills_missing_links_and_reads_statuses(database_url: str) -> None:
    async with running_service(database_url) as svc:
        svc.platform.groups["5000000000000000103"].status = "disabled"
        # Two hamlets' groups known by id only; the commune's is seeded without a link.
        await lose_link(svc, "Ấp Tân Lập")
        await lose_link(svc, "Ấp Hòa Bình")
        code, out, err = await loa_groups(svc, "sync")
        assert code == 0, err
        for name, group_id in (
            ("Ấp Tân Lập", TAN_LAP_GROUP),
            ("Ấp Hòa Bình", "5000000000000000103"),
        ):
            link = (await hamlet(svc, name)).group_link
            assert link and link == svc.platform.groups[group_id].group_link and link in out
        async with svc.runtime.sessions() as s:
            commune = await s.scalar(select(Commune))
            assert (
                commune is not None
                and commune.group_link == svc.platform.groups[COMMUNE_GROUP].group_link
            )
        assert "Ấp Hòa Bình: đã cập nhật đường dẫn mời" in out and "đã khoá" in out

        code, out, err = await loa_groups(svc, "sync")  # nothing left to fill in
        assert code == 0 and "đã cập nhật" not in out and "không đổi (đang hoạt động)" in out


async def test_with_several_communes_the_commune_is_named(database_url: str) -> None:
    async with running_service(database_url) as svc:
        clock = svc.runtime.clock
        async with svc.runtime.sessions() as s:
            other = Commune(
                slug="tan-loi", name="Xã Tân Lợi", hamlet_word="ấp", created_at=clock.now()
            )
            s.add(other)
            await s.flush()
            new = Hamlet(commune_id=other.id, name="Ấp Mới", language="vi")
            s.add(new)
            await s.flush()
            s.add(
                Staff(
                    commune_id=other.id,
                    hamlet_id=new.id,
                    zalo_user_id=HEAD_HB,
                    name="Lê Văn Phúc",
                    role=StaffRole.HAMLET_HEAD,
                    active=True,
                )
            )
            await s.commit()

        code, _, err = await loa_groups(svc, "create", "--hamlet", "Ấp Mới")
        assert code == 1 and "nhiều xã" in err and "tan-loi" in err
        code, out, err = await loa_groups(svc, "create", "--hamlet", "moi", "--commune", "tan-loi")
        assert code == 0, err
        row = await hamlet(svc, "Ấp Mới")
        assert row.group_id and svc.platform.groups[row.group_id].name == "Ấp Mới - Xã Tân Lợi"
        assert svc.platform.groups[row.group_id].members == [HEAD_HB]
        code, out, err = await loa_groups(svc, "list")
        assert code == 0 and "Ấp Mới (Xã Tân Lợi)" in out and "Ấp Tân Lập (Xã Tân Hòa)" in out
        code, _, err = await loa_groups(svc, "create")
        assert code == 1 and "--hamlet" in err


def test_lifecycle_names_and_shapes_from_every_source() -> None:
    base = {"app_id": "1", "oa_id": "2", "timestamp": "1793584800000", "group_id": "g1"}
    for name in ("user_join_group", "accept_request_join_group", "react_request_join_group_accept"):
        event = parse_event(
            {**base, "event_name": name, "users": [{"id": "u1"}, {"user_id": "u2"}]}
        )
        assert event == GroupMembership(name, base["timestamp"], "g1", ("u1", "u2"), True)
    for name in ("user_out_group", "user_leave_group", "remove_member_group"):
        event = parse_event({**base, "event_name": name, "users": [{"user_id": 42}]})
        assert isinstance(event, GroupMembership) and event.user_ids == ("42",) and not event.joined
    assert isinstance(parse_event({**base, "event_name": "user_join_group"}), Unknown)
    assert isinstance(
        parse_event({**base, "event_name": "user_join_group", "users": [{"name": "x"}]}), Unknown
    )
    assert isinstance(
        parse_event({**base, "event_name": "react_request_join_group", "users": []}), Unknown
    )
    one = {**base, "event_name": "user_join_group", "users": [{"id": "u1"}]}
    two = {**base, "event_name": "user_join_group", "users": [{"id": "u2"}]}
    assert dedupe_key(one) != dedupe_key(two)  # two joins in the same millisecond are two events


async def test_the_hamlet_page_offers_a_poster_only_when_there_is_one(database_url: str) -> None:
    from tests.desk import Visitor

    async with running_service(database_url) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        await lose_link(svc, "Ấp Hòa Bình")
        with_link, without = await hamlet(svc, "Ấp Tân Lập"), await hamlet(svc, "Ấp Hòa Bình")
        _, page, _ = await office.get(f"/admin/hamlets/{with_link.id}")
        poster = f"/groups/{with_link.id}/poster"
        assert f'href="{poster}"' in page
        assert (await office.get(poster))[0] == 200
        _, page, _ = await office.get(f"/admin/hamlets/{without.id}")
        assert (
            "/poster" not in page and "chưa có đường dẫn mời" in page and "loa groups sync" in page
        )
