"""An announcement end to end: an official's campaign, heads' answers in Zalo, fan-out, reach."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Hamlet, Resident, Staff
from bot.outbound.models import OutboundMessage
from broadcasts import actions
from broadcasts.campaigns import CampaignRequest, create_campaign
from broadcasts.models import (
    Broadcast,
    Campaign,
    HamletApproval,
    Household,
    HouseholdMember,
    Status,
)
from broadcasts.setup import deps_for, run_tick
from broadcasts.tracking import reach, reach_csv
from tests.service import Service, running_service

OFFICIAL = "3000000000000000007"
HEADS = {
    "Ấp Tân Lập": "3000000000000000001",
    "Ấp Tân Thạnh": "3000000000000000002",
    "Ấp Hòa Bình": "3000000000000000003",
}
BA_SAU, CHU_BAY, CHI_HAI, ANH_TU = (f"400000000000000000{i}" for i in (1, 2, 3, 4))
GROUPS = {
    "Ấp Tân Lập": "5000000000000000101",
    "Ấp Tân Thạnh": "5000000000000000102",
    "Ấp Hòa Bình": "5000000000000000103",
}
# (code, hamlet, category, member's Zalo id)
HOUSEHOLDS = [
    ("TL-01", "Ấp Tân Lập", "poor", BA_SAU),
    ("TL-02", "Ấp Tân Lập", "near_poor", CHU_BAY),
    ("TL-03", "Ấp Tân Lập", "poor", None),
    ("TL-04", "Ấp Tân Lập", "other", None),
    ("TT-01", "Ấp Tân Thạnh", "near_poor", CHI_HAI),
    ("TT-02", "Ấp Tân Thạnh", "poor", None),
    ("HB-01", "Ấp Hòa Bình", "poor", ANH_TU),
    ("HB-02", "Ấp Hòa Bình", "other", None),
]


async def add_households(svc: Service) -> None:
    """Replace the demo's household list with the tests' own, whose reach the tests work out."""
    async with svc.runtime.sessions() as s:
        await s.execute(delete(HouseholdMember))
        await s.execute(delete(Household))
        hamlets = {h.name: h for h in (await s.scalars(select(Hamlet))).all()}
        for code, hamlet, category, member in HOUSEHOLDS:
            h = Household(
                commune_id=hamlets[hamlet].commune_id,
                hamlet_id=hamlets[hamlet].id,
                code=code,
                head_name=f"Hộ {code}",
                category=category,
                updated_at=svc.runtime.clock.now(),
            )
            s.add(h)
            await s.flush()
            if member:
                resident = await s.scalar(select(Resident).where(Resident.zalo_user_id == member))
                assert resident is not None
                s.add(HouseholdMember(household_id=h.id, resident_id=resident.id))
        await s.commit()


def last_oa_text(svc: Service, user: str) -> str:
    texts = svc.oa_texts(user)
    return texts[-1] if texts else ""


async def test_three_hamlets_two_approve_one_rejects_and_reach_is_exact(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        await add_households(svc)
        # Residents and heads talked to the OA this week, so Zalo lets it write to them 1:1.
        for user in (BA_SAU, CHU_BAY, CHI_HAI, ANH_TU, *HEADS.values(), OFFICIAL):
            await svc.platform.user_send_text(user, "chào")
        await svc.settled()

        async with rt.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
            hamlets = {h.name: h.id for h in (await s.scalars(select(Hamlet))).all()}
            assert official is not None
            campaign = await create_campaign(
                s,
                CampaignRequest(
                    title="Họp thôn tháng 11",
                    template="hop-thon",
                    variables={
                        "date": "thứ Sáu 20/11",
                        "time": "19h30",
                        "place": "nhà văn hoá ấp",
                        "agenda": "bình xét hộ nghèo năm 2026",
                    },
                    author_staff_id=official.id,
                    hamlet_ids=[hamlets[n] for n in HEADS],
                    send_at=clock.now() + timedelta(hours=3),
                ),
                deps_for(rt),
                clock.now(),
            )
            await s.commit()
            campaign_id = campaign.id
        rt.outbox.wake()
        await svc.settled()
        for name, head in HEADS.items():
            assert "[Duyệt thông báo]" in last_oa_text(svc, head), f"request to {name}"
        assert "Ấp Tân Lập" in last_oa_text(svc, HEADS["Ấp Tân Lập"])
        assert "Mã xác thực" in last_oa_text(svc, HEADS["Ấp Tân Lập"])

        # Two heads approve in Zalo chat; one rejects with a reason; someone else cannot answer for them.
        await svc.platform.user_send_text(HEADS["Ấp Tân Lập"], "1")
        await svc.platform.user_send_text(HEADS["Ấp Tân Thạnh"], "Duyet")
        await svc.platform.user_send_text(HEADS["Ấp Hòa Bình"], "2 trùng lịch họp dân")
        await svc.settled()
        assert "DUYỆT" in last_oa_text(svc, HEADS["Ấp Tân Lập"])
        assert "TỪ CHỐI" in last_oa_text(svc, HEADS["Ấp Hòa Bình"])
        assert any(
            "trùng lịch họp dân" in t for t in svc.oa_texts(OFFICIAL)
        )  # the author hears why

        # At the time: two group messages and the 1:1 copies to the approved hamlets' residents.
        clock.advance(timedelta(hours=3))
        await run_tick(rt)
        await svc.settled()
        await run_tick(rt)  # the firing finishes once every copy has left
        await svc.settled()
        for name in ("Ấp Tân Lập", "Ấp Tân Thạnh"):
            posts = [m for m in svc.platform.group_chat_json(GROUPS[name]) if m.get("from") == "oa"]
            assert len(posts) == 1 and "họp" in posts[0]["text"] and name in posts[0]["text"]
        assert [
            m for m in svc.platform.group_chat_json(GROUPS["Ấp Hòa Bình"]) if m.get("from") == "oa"
        ] == []
        for user in (BA_SAU, CHU_BAY, CHI_HAI):
            assert "Mã xác thực" in last_oa_text(svc, user)
        assert "Mã xác thực" not in last_oa_text(svc, ANH_TU)
        async with rt.sessions() as s:
            broadcast = await s.scalar(
                select(Broadcast).where(Broadcast.campaign_id == campaign_id)
            )
            assert broadcast is not None and broadcast.status == Status.SENT
            firing, code = broadcast.id, broadcast.code

        # Seen, a "đã đọc" reply in a group, an offline record.
        await svc.platform.mark_seen(BA_SAU)
        await svc.platform.user_send_group_text(GROUPS["Ấp Tân Thạnh"], CHI_HAI, "đã đọc")
        async with rt.sessions() as s:
            head = await s.scalar(select(Staff).where(Staff.zalo_user_id == HEADS["Ấp Tân Lập"]))
            assert head is not None
            await actions.offline_reach(s, firing, "TL-03", "meeting", head, clock.now())
            await s.commit()
        await svc.settled()

        async with rt.sessions() as s:
            rows = {r.hamlet: r for r in await reach(s, firing)}
        tl, tt, hb = rows["Ấp Tân Lập"], rows["Ấp Tân Thạnh"], rows["Ấp Hòa Bình"]
        assert (
            tl.households,
            tl.reached,
            tl.poor,
            tl.poor_reached,
            tl.near_poor,
            tl.near_poor_reached,
        ) == (
            4,
            2,
            2,
            2,
            1,
            0,
        )
        assert (
            tt.households,
            tt.reached,
            tt.poor,
            tt.poor_reached,
            tt.near_poor,
            tt.near_poor_reached,
        ) == (
            2,
            1,
            1,
            0,
            1,
            1,
        )
        assert (hb.households, hb.reached, hb.group_delivered) == (2, 0, False)
        assert tl.group_delivered and tt.group_delivered

        async with rt.sessions() as s:
            data = await reach_csv(
                s, 1, clock.now() - timedelta(days=1), clock.now() + timedelta(days=1)
            )
        assert data.startswith("\ufeff".encode())
        text = data.decode("utf-8-sig")
        assert (
            "Ấp Tân Lập" in text and code in text and "TL-01" not in text
        )  # counts only, no household data

        # Scam check: the real code is confirmed, a made-up one is not.
        await svc.platform.user_send_text(ANH_TU, f"Mã xác thực: {code} có đúng không")
        await svc.settled()
        assert "là thật" in last_oa_text(svc, ANH_TU), "code confirmed"
        await svc.platform.user_send_text(ANH_TU, "Mã xác thực: QWERTY")
        await svc.settled()
        assert "KHÔNG phải" in last_oa_text(svc, ANH_TU), "fake code refused"

        async with rt.sessions() as s:
            entries = (
                await s.scalars(select(AuditEntry).where(AuditEntry.entity == "approval"))
            ).all()
            assert {(e.to_status, e.actor_staff_id is not None) for e in entries} >= {
                ("approved", True),
                ("rejected", True),
            }
            assert (await s.get(Campaign, campaign_id)).status == Status.SENT  # type: ignore[union-attr]
            assert await s.scalar(
                select(OutboundMessage).where(OutboundMessage.text.like("%[Kết quả gửi]%"))
            )


async def test_a_disabled_group_fails_with_its_reason_and_officials_are_alerted_once(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        await svc.platform.user_send_text(OFFICIAL, "chào")
        await svc.settled()
        svc.platform.groups[GROUPS["Ấp Tân Lập"]].status = "disabled"  # the GMF plan expired
        async with rt.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
            tan_lap = await s.scalar(select(Hamlet).where(Hamlet.name == "Ấp Tân Lập"))
            assert official is not None and tan_lap is not None
            await create_campaign(
                s,
                CampaignRequest(
                    title="Cảnh báo lừa đảo",
                    template="canh-bao-lua-dao",
                    variables=dict(_examples(rt, "canh-bao-lua-dao")),
                    author_staff_id=official.id,
                    hamlet_ids=[tan_lap.id],
                    channels=["group"],
                    urgent=True,
                    skip_approval=True,
                ),
                deps_for(rt),
                clock.now(),
            )
            await s.commit()
        for _ in range(2):
            await run_tick(rt)
            await svc.settled()
        async with rt.sessions() as s:
            row = await s.scalar(
                select(OutboundMessage).where(OutboundMessage.purpose == "broadcast")
            )
            assert row is not None and row.status == "failed" and row.error_code == -237
            assert row.error_reason and "hết hạn" in row.error_reason
            broadcast = await s.scalar(select(Broadcast))
            assert broadcast is not None and broadcast.status == Status.FAILED
        alerts = [t for t in svc.oa_texts(OFFICIAL) if "[Cảnh báo nhóm Zalo]" in t]
        assert len(alerts) == 1 and "Ấp Tân Lập" in alerts[0]
        async with rt.sessions() as s:
            entries = (
                await s.scalars(select(AuditEntry).where(AuditEntry.flagged.is_(True)))
            ).all()
        assert entries  # an urgent send without approval is flagged in the audit log


def _examples(rt, name: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    info = deps_for(rt).templates.info(name)
    return {v.name: v.example for v in info.variables if v.required}


COMMUNE_GROUP = "5000000000000000100"


async def test_an_official_posts_in_the_commune_group_and_heads_answer_there(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        await svc.platform.user_send_text(BA_SAU, "chào")  # someone the 1:1 copy can reach
        await svc.platform.user_send_group_text(
            COMMUNE_GROUP,
            OFFICIAL,
            "#thongbao Tạm ngưng cấp nước\nTừ 8h00 đến 16h00 thứ Năm, trạm cấp nước sửa ống.",
        )
        await svc.settled()
        chat = svc.platform.group_chat_json(COMMUNE_GROUP)
        oa = [m for m in chat if m.get("from") == "oa"]
        assert any("Đã nhận thông báo" in m["text"] for m in oa)
        # The heads never wrote to the OA, so Zalo allows no 1:1: the requests come in the commune group.
        hamlets = [*HEADS, "Ấp Phú Lợi"]  # a post in the commune group goes to every hamlet
        requests = {
            name: m
            for m in oa
            for name in hamlets
            if "[Duyệt thông báo]" in m["text"] and name in m["text"]
        }
        assert set(requests) == set(hamlets)
        tan_lap = requests["Ấp Tân Lập"]
        assert f"[@{HEADS['Ấp Tân Lập']}]" in tan_lap["text"]

        # Another head cannot approve for Tân Lập; its own head can, replying in the group.
        await svc.platform.user_send_group_text(
            COMMUNE_GROUP, HEADS["Ấp Hòa Bình"], "1", tan_lap["msg_id"]
        )
        await svc.settled()
        assert (
            "Chỉ Nguyễn Văn Hùng mới duyệt"
            in svc.platform.group_chat_json(COMMUNE_GROUP)[-1]["text"]
        )
        await svc.platform.user_send_group_text(
            COMMUNE_GROUP, HEADS["Ấp Tân Lập"], "1", tan_lap["msg_id"]
        )
        await svc.settled()
        assert "DUYỆT" in svc.platform.group_chat_json(COMMUNE_GROUP)[-1]["text"]
        async with svc.runtime.sessions() as s:
            statuses = {
                a.hamlet_id: a.status for a in (await s.scalars(select(HamletApproval))).all()
            }
        assert sorted(statuses.values()).count("approved") == 1


async def test_a_test_send_reaches_only_its_author(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        await svc.platform.user_send_text(OFFICIAL, "chào")
        await svc.settled()
        async with rt.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
            assert official is not None
            from broadcasts.campaigns import send_test

            await send_test(
                s,
                CampaignRequest(
                    title="Thử",
                    template="thong-bao-chung",
                    variables={"title": "Thử", "body": "Nội dung thử"},
                    author_staff_id=official.id,
                ),
                deps_for(rt),
                clock.now(),
            )
            await s.commit()
        rt.outbox.wake()
        await svc.settled()
        assert "[GỬI THỬ" in last_oa_text(svc, OFFICIAL), "the test copy"
        await svc.settled()
        assert all("[GỬI THỬ" not in t for u in (BA_SAU, *HEADS.values()) for t in svc.oa_texts(u))
        async with rt.sessions() as s:
            assert (await s.scalars(select(Broadcast))).all() == []


async def test_household_groups_get_1to1_copies_and_the_head_a_private_list(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc:
        rt = svc.runtime
        await add_households(svc)
        for user in (BA_SAU, CHU_BAY, OFFICIAL):
            await svc.platform.user_send_text(user, "chào")
        await svc.settled()
        async with rt.sessions() as s:
            official = await s.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
            tan_lap = await s.scalar(select(Hamlet).where(Hamlet.name == "Ấp Tân Lập"))
            assert official is not None and tan_lap is not None
            await create_campaign(
                s,
                CampaignRequest(
                    title="Nhận thẻ bảo hiểm y tế",
                    template="thong-bao-chung",
                    variables={
                        "title": "Nhận thẻ BHYT",
                        "body": "Mời các hộ đến UBND xã nhận thẻ.",
                    },
                    author_staff_id=official.id,
                    hamlet_ids=[tan_lap.id],
                    household_categories=["poor"],
                    channels=["resident"],
                    urgent=True,
                    skip_approval=True,
                ),
                deps_for(rt),
                clock.now(),
            )
            await s.commit()
        for _ in range(2):
            await run_tick(rt)
            await svc.settled()
        # Only the poor household's member gets a copy; the group gets no post.
        assert "Mời các hộ" in last_oa_text(svc, BA_SAU)
        assert "Mời các hộ" not in last_oa_text(svc, CHU_BAY)
        assert not [
            m for m in svc.platform.group_chat_json(GROUPS["Ấp Tân Lập"]) if m.get("from") == "oa"
        ]
        # The head has no 1:1 window: the commune group hears a count, never the names.
        notes = [
            m["text"]
            for m in svc.platform.group_chat_json(COMMUNE_GROUP)
            if "[Báo trực tiếp]" in m["text"]
        ]
        assert len(notes) == 1 and "1 hộ" in notes[0] and "TL-03" not in notes[0]
        await svc.platform.user_send_text(HEADS["Ấp Tân Lập"], "danh sách")
        await svc.settled()
        assert "TL-03" in last_oa_text(svc, HEADS["Ấp Tân Lập"]), "the private list"
        assert "TL-01" not in last_oa_text(svc, HEADS["Ấp Tân Lập"])  # reached by Zalo already
