"""Staff accounts on the desk, and handing a hamlet to a newly elected head in one audited action."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Hamlet, Staff
from broadcasts.models import HamletApproval, Status
from tests.desk import (
    ADMIN_PHONE,
    RESIDENT,
    TAN_LAP_HEAD,
    TAN_THANH_HEAD,
    Visitor,
    csrf_in,
    head_signed_in,
)
from tests.integration.test_desk import meeting
from tests.service import Service, running_service


async def staff_named(svc: Service, name: str) -> Staff | None:
    async with svc.runtime.sessions() as s:
        return await s.scalar(select(Staff).where(Staff.name == name))


async def count_staff(svc: Service) -> int:
    async with svc.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Staff)) or 0)


async def test_an_admin_adds_changes_and_disables_an_account(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as admin:
        assert await admin.sign_in(ADMIN_PHONE) == 303
        status, page, _ = await admin.get("/admin/staff")
        assert status == 200 and "Nguyễn Văn Hùng" in page and "Trưởng ấp, Ấp Tân Lập" in page
        token = csrf_in(page)
        before = await count_staff(svc)

        bad = {"csrf_token": token, "name": "", "phone": "12345", "role": "digital_team"}
        status, page, _ = await admin.post("/admin/staff", bad)
        assert status == 400
        assert 'id="err-name"' in page and 'id="err-phone"' in page and 'id="err-hamlet"' in page
        assert 'value="12345"' in page  # what was typed comes back
        # The form is at the foot of the list: the top of the page says so, and links down to it.
        assert page.index('href="#add-staff"') < page.index("<table")
        head = await staff_named(svc, "Nguyễn Văn Hùng")
        assert head is not None
        taken = {**bad, "name": "Ai Đó", "phone": "0901000007", "role": "official"}
        status, page, _ = await admin.post(f"/admin/staff/{head.id}", taken)
        assert status == 400 and "đã là của Đặng Quốc Bảo" in page
        assert await count_staff(svc) == before

        async with svc.runtime.sessions() as s:
            tan_lap = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Tân Lập"))
        good = {
            "csrf_token": token,
            "name": "Võ Thị Hạnh",
            "phone": "0912 000 333",
            "role": "digital_team",
            "hamlet": str(tan_lap),
        }
        status, _, answer = await admin.post("/admin/staff", good)
        assert status == 303
        _, page, _ = await admin.get(answer.headers["Location"])
        assert "Đã thêm tài khoản Võ Thị Hạnh." in page and "0912000333" in page
        added = await staff_named(svc, "Võ Thị Hạnh")
        assert added is not None and added.hamlet_id == tan_lap and added.active

        status, _, _ = await admin.post(
            f"/admin/staff/{added.id}", {**good, "name": "Võ Thị Mỹ Hạnh"}
        )
        assert status == 303 and await staff_named(svc, "Võ Thị Mỹ Hạnh") is not None

        status, _, _ = await admin.post(
            f"/admin/staff/{added.id}/active", {"csrf_token": token, "active": "0"}
        )
        assert status == 303
        disabled = await staff_named(svc, "Võ Thị Mỹ Hạnh")
        assert disabled is not None and not disabled.active

        async with svc.runtime.sessions() as s:
            me = await s.scalar(select(Staff).where(Staff.phone == ADMIN_PHONE))
            entries = (
                await s.scalars(
                    select(AuditEntry).where(
                        AuditEntry.entity == "staff", AuditEntry.entity_id == added.id
                    )
                )
            ).all()
        assert me is not None
        assert [e.to_status for e in entries] == ["added", "updated", "disabled"]
        assert all(e.actor_staff_id == me.id for e in entries)
        status, page, _ = await admin.post(
            f"/admin/staff/{me.id}/active", {"csrf_token": token, "active": "0"}
        )
        assert status == 400 and "Không tự khoá" in page


async def test_only_admins_change_accounts(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        token = await office.form_token()
        status, _, _ = await office.get("/admin/staff")
        assert status == 404
        before = await count_staff(svc)
        status, _, _ = await office.post(
            "/admin/staff",
            {"csrf_token": token, "name": "Ai Đó", "phone": "0912000444", "role": "admin"},
        )
        assert status == 404 and await count_staff(svc) == before
        status, _, _ = await office.post(
            "/admin/hamlets/1/handover",
            {"csrf_token": token, "name": "Ai Đó", "phone": "0912000444"},
        )
        assert status == 404 and await count_staff(svc) == before


async def test_a_hamlet_is_handed_to_its_new_head_in_one_audited_action(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as admin,
        Visitor(svc) as old_phone,
        Visitor(svc) as new_phone,
    ):
        approval_id = await meeting(svc, clock)
        await head_signed_in(svc, old_phone)
        assert await admin.sign_in(ADMIN_PHONE) == 303
        async with svc.runtime.sessions() as s:
            tan_lap = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Tân Lập"))
        path = f"/admin/hamlets/{tan_lap}"
        status, page, _ = await admin.get(path)
        assert status == 200 and "Giao ấp cho trưởng ấp mới" in page
        token = csrf_in(page)

        typed = {"csrf_token": token, "name": "Phạm Văn Tài", "phone": "0912000555"}
        status, page, _ = await admin.post(path + "/handover", typed)
        assert status == 400 and "tài khoản của Nguyễn Văn Hùng sẽ bị khoá" in page  # not ticked
        status, page, _ = await admin.post(
            path + "/handover", {**typed, "confirm": "1", "phone": "0901000007"}
        )
        assert status == 400 and "là của Đặng Quốc Bảo (Cán bộ xã)" in page
        status, page, _ = await admin.post(
            path + "/handover", {**typed, "confirm": "1", "zalo_id": "abc-xyz"}
        )
        assert status == 400 and "Mã Zalo “abc-xyz” chưa đúng" in page
        old = await staff_named(svc, "Nguyễn Văn Hùng")
        assert old is not None and old.active  # nothing changed

        status, _, answer = await admin.post(
            path + "/handover",
            {
                "csrf_token": token,
                "name": "Phạm Văn Tài",
                "phone": "0912000555",
                "zalo_id": RESIDENT,
                "confirm": "1",
            },
        )
        assert status == 303
        _, page, _ = await admin.get(answer.headers["Location"])
        assert "Đã giao Ấp Tân Lập cho trưởng ấp mới: Phạm Văn Tài." in page

        old = await staff_named(svc, "Nguyễn Văn Hùng")
        new = await staff_named(svc, "Phạm Văn Tài")
        assert old is not None and not old.active
        assert new is not None and new.role == "hamlet_head" and new.hamlet_id == tan_lap
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
            handed = (
                await s.scalars(select(AuditEntry).where(AuditEntry.entity == "hamlet"))
            ).all()
        assert approval is not None and approval.approver_staff_id == new.id
        assert len(handed) == 1 and "Nguyễn Văn Hùng → Phạm Văn Tài" in (handed[0].note or "")
        assert "1 thông báo chờ duyệt" in (handed[0].note or "")

        status, _, _ = await old_phone.get("/admin/approvals")
        assert status == 303  # the old head's session ended at once
        await svc.platform.user_send_text(TAN_LAP_HEAD, "đăng nhập")
        await svc.settled()
        assert "/admin/link/" not in svc.oa_texts(TAN_LAP_HEAD)[-1]

        await head_signed_in(svc, new_phone, RESIDENT)
        status, page, _ = await new_phone.get("/admin/approvals")
        assert status == 200 and "Họp ấp tháng 12" in page
        status, _, _ = await new_phone.post(
            f"/admin/approvals/{approval_id}", {"csrf_token": csrf_in(page), "decision": "approve"}
        )
        assert status == 303
        async with svc.runtime.sessions() as s:
            approval = await s.get(HamletApproval, approval_id)
        assert approval is not None and approval.status == Status.APPROVED
        assert approval.decided_by == new.id


async def test_the_add_form_never_takes_over_someone_elses_account(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as admin:
        assert await admin.sign_in(ADMIN_PHONE) == 303
        token = await admin.form_token()
        status, page, _ = await admin.post(
            "/admin/staff",
            {"csrf_token": token, "name": "Ai Đó", "phone": "0901 000 002", "role": "official"},
        )
        assert status == 400 and "Số 0901000002 đã là của Trần Thị Mai" in page
        mai = await staff_named(svc, "Trần Thị Mai")
        assert mai is not None and mai.role == "hamlet_head" and mai.zalo_user_id == TAN_THANH_HEAD
        assert await staff_named(svc, "Ai Đó") is None


async def test_a_hand_over_to_the_sitting_head_or_a_known_account(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as admin:
        assert await admin.sign_in(ADMIN_PHONE) == 303
        async with svc.runtime.sessions() as s:
            tan_lap = await s.scalar(select(Hamlet.id).where(Hamlet.name == "Ấp Tân Lập"))
        path = f"/admin/hamlets/{tan_lap}/handover"
        token = await admin.form_token()

        status, page, _ = await admin.post(
            path,
            {"csrf_token": token, "name": "Hùng", "phone": "0901000001", "confirm": "1"},
        )
        assert status == 400 and "đang là trưởng ấp Ấp Tân Lập" in page
        sitting = await staff_named(svc, "Nguyễn Văn Hùng")
        assert sitting is not None and sitting.active and sitting.zalo_user_id == TAN_LAP_HEAD

        # The team member elected head keeps the Zalo account the bot knows them by.
        form = {
            "csrf_token": token,
            "name": "Phạm Minh Tuấn",
            "phone": "0901000005",
            "confirm": "1",
        }
        status, _, _ = await admin.post(path, {**form, "zalo_id": ""})
        assert status == 303
        new = await staff_named(svc, "Phạm Minh Tuấn")
        assert new is not None and new.role == "hamlet_head"
        assert new.zalo_user_id == "3000000000000000005"
        async with svc.runtime.sessions() as s:
            note = await s.scalar(select(AuditEntry.note).where(AuditEntry.entity == "hamlet"))
        assert note is not None and "Nguyễn Văn Hùng → Phạm Minh Tuấn" in note
