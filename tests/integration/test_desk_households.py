"""Households on the desk: a head's own list, editing, linking followers, the import by upload."""

from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.directory.models import AuditEntry, Resident
from broadcasts.models import Household, HouseholdMember
from tests.desk import Visitor, csrf_in, head_signed_in
from tests.integration.test_announcements import BA_SAU, add_households
from tests.service import Service, running_service


async def household(svc: Service, code: str) -> Household:
    async with svc.runtime.sessions() as s:
        found = await s.scalar(select(Household).where(Household.code == code))
    assert found is not None
    return found


async def resident_named(svc: Service, name: str) -> Resident:
    async with svc.runtime.sessions() as s:
        found = await s.scalar(select(Resident).where(Resident.display_name == name))
    assert found is not None
    return found


async def test_a_head_sees_edits_and_links_only_their_own_hamlets_households(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as phone:
        await add_households(svc)
        await head_signed_in(svc, phone)
        theirs = await household(svc, "TT-01")
        status, page, _ = await phone.get(f"/admin/households?hamlet={theirs.hamlet_id}")
        assert status == 200 and "Hộ TL-01" in page and "Hộ TT-01" not in page  # own hamlet only
        assert "4 hộ" in page
        _, page, _ = await phone.get("/admin/households?q=TL-02")
        assert "Hộ TL-02" in page and "Hộ TL-01" not in page
        for typed in ("' OR '1'='1", "%", "TT-01", "'; DROP TABLE households; --"):
            async with phone.http.get(phone.url("/admin/households"), params={"q": typed}) as r:
                assert r.status == 200 and "Hộ TT" not in await r.text(), typed
        status, _, _ = await phone.get(f"/admin/households/{theirs.id}")
        assert status == 404

        mine = await household(svc, "TL-03")
        path = f"/admin/households/{mine.id}"
        status, page, _ = await phone.get(path)
        assert status == 200 and "Hộ chưa có ai nhận tin qua Zalo" in page
        assert 'name="hamlet"' not in page  # a head does not move households to another hamlet
        assert 'name="category"' not in page and "Nhóm hộ: <b>hộ nghèo</b>" in page
        token = csrf_in(page)
        form = {"csrf_token": token, "head_name": "Hộ TL-03", "phone": "12", "category": "other"}
        status, page, _ = await phone.post(path, form)
        assert status == 400 and 'id="err-phone"' in page
        status, _, _ = await phone.post(
            path,
            {**form, "phone": "0912 345 678", "address": "Tổ 3", "hamlet": str(theirs.hamlet_id)},
        )
        assert status == 303
        saved = await household(svc, "TL-03")
        assert (saved.phone, saved.address, saved.hamlet_id, saved.category) == (
            "0912345678",
            "Tổ 3",
            mine.hamlet_id,
            "poor",  # the commune's review decides poor and near-poor, not a head's form
        )

        tuan = await resident_named(svc, "Phạm Minh Tuấn")
        hoa = await resident_named(svc, "Chị Hai Trần Thị Hoa")  # lives in Tân Thạnh
        status, page, _ = await phone.post(
            path + "/members", {"csrf_token": token, "resident": str(hoa.id)}
        )
        assert status == 400 and "Xin chọn một người" in page
        status, _, _ = await phone.post(
            path + "/members", {"csrf_token": token, "resident": str(tuan.id)}
        )
        assert status == 303
        _, page, _ = await phone.get(path)
        assert "Phạm Minh Tuấn" in page and "Hộ chưa có ai" not in page
        async with svc.runtime.sessions() as s:
            linked = await s.scalar(
                select(HouseholdMember.household_id).where(HouseholdMember.resident_id == tuan.id)
            )
            notes = (
                await s.scalars(select(AuditEntry.note).where(AuditEntry.entity == "household"))
            ).all()
        assert linked == mine.id
        assert any("sửa" in (n or "") and "điện thoại" in (n or "") for n in notes)
        assert any("liên kết Phạm Minh Tuấn" in (n or "") for n in notes)
        status, _, _ = await phone.post(
            f"/admin/households/{theirs.id}/members", {"csrf_token": token, "resident": str(hoa.id)}
        )
        assert status == 404

        status, _, _ = await phone.get("/admin/households/import")
        assert status == 404  # the commune's list is loaded by its officials


def csv_file(rows: list[str]) -> bytes:
    return ("\ufeff" + "\n".join(["Mã hộ,Ấp,Chủ hộ,Phân loại", *rows]) + "\n").encode()


async def upload(office: Visitor, token: str | None, name: str, data: bytes) -> tuple[int, str]:
    return await office.upload("/admin/households/import", token, name, data)


async def count_households(svc: Service) -> int:
    async with svc.runtime.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Household)) or 0)


async def test_an_official_imports_the_list_by_upload_all_rows_or_none(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        assert await office.sign_in() == 303
        status, page, _ = await office.get("/admin/households/import")
        assert status == 200 and 'enctype="multipart/form-data"' in page
        token = csrf_in(page)
        demo = await count_households(svc)  # the demo commune's own list

        bad = csv_file(["H-01,Ấp Tân Lập,Nguyễn Văn A,nghèo", "H-02,Ấp Không Có,Trần B,khác"])
        status, page = await upload(office, token, "ho.csv", bad)
        assert status == 400 and "Dòng 3" in page and "chưa ghi gì" in page
        assert await count_households(svc) == demo
        status, _ = await upload(office, None, "ho.csv", bad)
        assert status == 403  # the token comes first, or nothing is read
        status, page = await upload(office, token, "ho.pdf", b"%PDF")
        assert status == 400 and "CSV (.csv) hoặc Excel (.xlsx)" in page
        status, page = await upload(office, token, "", b"")  # "Nhập" with no file chosen
        assert status == 400 and "Xin chọn tệp danh sách hộ" in page

        good = csv_file(
            ["H-01,Ấp Tân Lập,Nguyễn Văn A,nghèo", "H-02,Tân Thạnh,Trần Thị B,cận nghèo"]
        )
        status, page = await upload(office, token, "ho.csv", good)
        assert status == 200 and "2 hộ mới" in page and await count_households(svc) == demo + 2
        assert 'href="/admin/households">Xem danh sách hộ' in page

        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["Mã hộ", "Ấp", "Chủ hộ", "Phân loại"])
        sheet.append(["H-02", "Ấp Tân Thạnh", "Trần Thị Bé", "cận nghèo"])
        sheet.append(["H-03", "Ấp Hòa Bình", "Lê Văn C", "khác"])
        out = io.BytesIO()
        book.save(out)
        status, page = await upload(office, token, "ho.xlsx", out.getvalue())
        assert status == 200 and "1 hộ mới, 1 hộ cập nhật" in page
        assert (await household(svc, "H-02")).head_name == "Trần Thị Bé"
        async with svc.runtime.sessions() as s:
            imported = (
                await s.scalars(select(AuditEntry).where(AuditEntry.to_status == "imported"))
            ).all()
        assert len(imported) == 2 and "ho.xlsx" in (imported[-1].note or "")
        _, page, _ = await office.get("/admin/audit")
        table = page[page.index('<table id="audit">') : page.index("</table>")]
        assert "hộ gia đình" in table and "nhập từ tệp" in table
        assert "household" not in table and "imported" not in table and "số 0" not in table


async def test_the_digital_team_sees_its_hamlets_residents_and_who_zalo_lets_us_reach(
    database_url: str,
) -> None:
    clock = FakeClock()
    async with (
        running_service(database_url, clock=clock) as svc,
        Visitor(svc) as phone,
        Visitor(svc) as office,
    ):
        await add_households(svc)
        await svc.platform.user_send_text(BA_SAU, "chào")
        await svc.settled()
        await head_signed_in(svc, phone, "3000000000000000005")  # Phạm Minh Tuấn, tổ công nghệ số
        status, page, _ = await phone.get("/admin/residents")
        assert status == 200 and "Bà Sáu Nguyễn Thị Sáu" in page and "Chú Bảy" in page
        assert "Chị Hai" not in page  # another hamlet's
        assert 'Nguyễn Văn Hùng <span class="note">(cán bộ: Trưởng ấp)</span>' in page
        assert "đã liên kết" in page and "Hộ TL-01" not in page  # households are not theirs to see
        _, page, _ = await phone.get("/admin/residents?state=reachable")
        assert "Bà Sáu" in page and "Chú Bảy" not in page and "nhắn riêng được" in page
        status, _, _ = await phone.get("/admin/households")
        assert status == 404

        assert await office.sign_in() == 303
        _, page, _ = await office.get("/admin/residents?q=Hai")
        assert "Chị Hai Trần Thị Hoa" in page and "Ấp Tân Thạnh" in page
        assert 'href="/admin/households/' in page and "Hộ TT-01" in page


async def test_search_ignores_case_and_diacritics(database_url: str) -> None:
    clock = FakeClock()
    async with running_service(database_url, clock=clock) as svc, Visitor(svc) as office:
        await add_households(svc)
        assert await office.sign_in() == 303
        mine = await household(svc, "TL-03")
        page = await office.get(f"/admin/households/{mine.id}")
        form = {"csrf_token": csrf_in(page[1]), "head_name": "Nguyễn Thị Ánh", "category": "poor"}
        assert (await office.post(f"/admin/households/{mine.id}", form))[0] == 303
        for typed in ("nguyen thi anh", "NGUYỄN", "Ánh", "tl-03", "tl 03"):
            async with office.http.get(office.url("/admin/households"), params={"q": typed}) as r:
                found = await r.text()
            assert "Nguyễn Thị Ánh" in found and "TL-01" not in found, typed
        async with office.http.get(office.url("/admin/residents"), params={"q": "CHI HAI"}) as r:
            assert "Chị Hai Trần Thị Hoa" in await r.text()
        async with office.http.get(office.url("/admin/residents"), params={"q": "_"}) as r:
            assert "Chị Hai Trần Thị Hoa" not in await r.text()
