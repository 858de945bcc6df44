"""`loa households import`: CSV and Excel household lists, all rows or none, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import Commune, Hamlet, Resident
from broadcasts.households import (
    ImportProblems,
    ImportResult,
    households_import_command,
    import_households,
    read_rows,
)
from broadcasts.models import Household, HouseholdMember

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
HEADER = ["STT", "Mã hộ", "Ấp", "Chủ hộ", "Địa chỉ", "Số điện thoại", "Phân loại", "Zalo ID"]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    async with factory() as session, session.begin():
        commune = Commune(slug="tan-loi", name="Xã Tân Lợi", hamlet_word="ấp", created_at=NOW)
        other = Commune(slug="khac", name="Xã Khác", hamlet_word="thôn", created_at=NOW)
        session.add_all([commune, other])
        await session.flush()
        session.add_all(
            [
                Hamlet(commune_id=commune.id, name="Ấp Tân Hòa"),
                Hamlet(commune_id=commune.id, name="Ấp Phú Lợi"),
                Hamlet(commune_id=commune.id, name="Ấp 3"),
                Hamlet(commune_id=other.id, name="Thôn Đông"),
            ]
        )
        for n in range(1, 5):
            session.add(Resident(zalo_user_id=f"zalo-{n}", commune_id=commune.id, created_at=NOW))
    yield factory
    await engine.dispose()


async def hamlet_ids(session: AsyncSession) -> dict[str, int]:
    return {h.name: h.id for h in await session.scalars(select(Hamlet))}


async def households(session: AsyncSession) -> dict[str, Household]:
    return {h.code: h for h in await session.scalars(select(Household))}


async def members(session: AsyncSession) -> dict[str, str]:
    """Zalo user id -> household code."""
    rows = await session.execute(
        select(Resident.zalo_user_id, Household.code)
        .join(HouseholdMember, HouseholdMember.resident_id == Resident.id)
        .join(Household, Household.id == HouseholdMember.household_id)
    )
    return {zalo_id: code for zalo_id, code in rows}


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> Path:
    text = (
        "\n".join(delimiter.join(f'"{c}"' if delimiter in c else c for c in row) for row in rows)
        + "\n"
    )
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8")
    return path


GOOD = [
    HEADER,
    [
        "1",
        "TL-001",
        "Ấp Tân Hòa",
        "Nguyễn Văn An",
        "Tổ 1, ấp Tân Hòa",
        "0912 345 678",
        "Hộ nghèo",
        "zalo-1",
    ],
    [
        "2",
        "TL-002",
        "tan hoa",
        "Trần Thị Bình",
        "",
        "+84 987 654 321",
        "can ngheo",
        "zalo-2; zalo-3",
    ],
    ["3", "TL-003", "PHÚ LỢI", "Lê Văn Cường", "", "84356789012", "thoát nghèo", ""],
    ["4", "TL-004", "ap 03", "Phạm Thị Dung", "", "", "", "zalo-404"],
    ["", "", "", "", "", "", "", ""],
    ["5", "TL-005", "Ấp 3", "Võ Văn Em", "Số 5", "", "Khác", ""],
]


async def test_good_csv_imports_categories_phones_and_zalo_members(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ho.csv", GOOD, delimiter=";", bom=True)
    seen: list[tuple[int, int]] = []
    async with sessions() as session, session.begin():
        commune_id = await session.scalar(select(Commune.id).where(Commune.slug == "tan-loi"))
        assert commune_id is not None
        result = await import_households(
            session, commune_id, path, NOW, progress=lambda done, total: seen.append((done, total))
        )
    assert (result.created, result.updated, result.linked) == (5, 0, 3)
    assert result.warnings == (
        "Dòng 5: Zalo ID 'zalo-404' chưa nhắn tin hay quan tâm OA nên chưa liên kết được với hộ",
    )
    assert seen == [(5, 5)]
    async with sessions() as session:
        ids = await hamlet_ids(session)
        got = await households(session)
        assert sorted(got) == ["TL-001", "TL-002", "TL-003", "TL-004", "TL-005"]
        assert {c: (h.category, h.phone) for c, h in got.items()} == {
            "TL-001": ("poor", "0912345678"),
            "TL-002": ("near_poor", "0987654321"),
            "TL-003": ("newly_escaped", "0356789012"),
            "TL-004": ("other", None),
            "TL-005": ("other", None),
        }
        assert got["TL-001"].hamlet_id == got["TL-002"].hamlet_id == ids["Ấp Tân Hòa"]
        assert got["TL-003"].hamlet_id == ids["Ấp Phú Lợi"]
        assert got["TL-004"].hamlet_id == got["TL-005"].hamlet_id == ids["Ấp 3"]
        assert (
            got["TL-001"].head_name == "Nguyễn Văn An"
            and got["TL-001"].address == "Tổ 1, ấp Tân Hòa"
        )
        assert got["TL-002"].address is None
        assert all(h.updated_at == NOW for h in got.values())
        assert await members(session) == {
            "zalo-1": "TL-001",
            "zalo-2": "TL-002",
            "zalo-3": "TL-002",
        }


async def test_good_xlsx_with_a_title_row_and_number_cells(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Danh sách"
    sheet.append(["DANH SÁCH HỘ GIA ĐÌNH NĂM 2026"])
    sheet.append([])
    sheet.append(
        ["MÃ HỘ", "Thôn", "chu ho", "dia chi", "SỐ ĐIỆN THOẠI", "PHÂN LOẠI", "zalo id", "Ghi chú"]
    )
    sheet.append([101, "Tân Hoà", "Đặng Văn Giàu", None, 912345678, "HỘ NGHÈO", "zalo-4", "mới"])
    sheet.append(
        [
            "TL-102",
            "Ấp Phú Lợi",
            "Huỳnh Thị Hạnh",
            "Kênh 2",
            "0862 111 222",
            "hộ mới thoát nghèo",
            None,
        ]
    )
    sheet.append([None, None, None, None, None, None, None, None])
    path = tmp_path / "ho.xlsx"
    book.save(path)

    rows = read_rows(path)
    assert rows[0]["MÃ HỘ"] == "101" and rows[0]["SỐ ĐIỆN THOẠI"] == "912345678"
    assert len(rows) == 2

    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, path, out, err, NOW, "tan-loi") == 0, (
        err.getvalue()
    )
    assert out.getvalue() == (
        "Đã nhập 2 hộ từ tệp ho.xlsx: 2 hộ mới, 0 hộ cập nhật, 0 hộ không đổi; "
        "liên kết thêm 1 tài khoản Zalo với hộ.\n"
    )
    assert err.getvalue() == ""  # no progress bar for a small file
    async with sessions() as session:
        ids = await hamlet_ids(session)
        got = await households(session)
        assert {c: (h.hamlet_id, h.category, h.phone, h.address) for c, h in got.items()} == {
            "101": (ids["Ấp Tân Hòa"], "poor", "0912345678", None),
            "TL-102": (ids["Ấp Phú Lợi"], "newly_escaped", "0862111222", "Kênh 2"),
        }
        assert await members(session) == {"zalo-4": "101"}


async def test_reimport_updates_instead_of_duplicating(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    first = write_csv(tmp_path / "ho.csv", GOOD)
    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, first, out, err, NOW, "tan-loi") == 0, (
        err.getvalue()
    )

    again = io.StringIO()
    assert await households_import_command(sessions, first, again, err, LATER, "tan-loi") == 0
    assert again.getvalue().startswith(
        "Đã nhập 5 hộ từ tệp ho.csv: 0 hộ mới, 0 hộ cập nhật, 5 hộ không đổi;"
    )
    assert "liên kết thêm 0 tài khoản Zalo" in again.getvalue()

    changed = [
        HEADER,
        [
            "1",
            "TL-001",
            "Ấp Tân Hòa",
            "Nguyễn Văn An",
            "Tổ 1, ấp Tân Hòa",
            "0912345678",
            "cận nghèo",
            "zalo-1",
        ],
        ["2", "TL-002", "Phú Lợi", "Trần Thị Bình", "Tổ 9", "0987654321", "hộ cận nghèo", "zalo-3"],
        ["3", "TL-006", "Ấp 3", "Ngô Văn Phúc", "", "", "", "zalo-2"],
    ]
    path = write_csv(tmp_path / "ho-moi.csv", changed)
    async with sessions() as session, session.begin():
        commune_id = await session.scalar(select(Commune.id).where(Commune.slug == "tan-loi"))
        assert commune_id is not None
        result = await import_households(session, commune_id, path, LATER)
    assert result == ImportResult(created=1, updated=2, linked=1, unchanged=0, warnings=())
    async with sessions() as session:
        ids = await hamlet_ids(session)
        got = await households(session)
        assert (
            len(got) == 6 and await session.scalar(select(func.count()).select_from(Household)) == 6
        )
        assert (got["TL-001"].category, got["TL-001"].updated_at) == ("near_poor", LATER)
        assert (got["TL-002"].hamlet_id, got["TL-002"].address) == (ids["Ấp Phú Lợi"], "Tổ 9")
        assert got["TL-003"].updated_at == NOW  # not in the new file: kept as it was
        # zalo-2 moved to the new household; zalo-3 stays; nobody is unlinked by an import.
        assert await members(session) == {
            "zalo-1": "TL-001",
            "zalo-2": "TL-006",
            "zalo-3": "TL-002",
        }


async def test_bad_rows_are_all_reported_by_line_and_nothing_changes(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "ho.csv", GOOD)
    assert (
        await households_import_command(
            sessions, good, io.StringIO(), io.StringIO(), NOW, "tan-loi"
        )
        == 0
    )
    async with sessions() as session:
        before = {
            c: (h.head_name, h.phone, h.category, h.updated_at)
            for c, h in (await households(session)).items()
        }
        members_before = await members(session)

    bad = [
        HEADER,
        [
            "1",
            "TL-001",
            "Ấp Tân Hòa",
            "Nguyễn Văn Đổi",
            "",
            "0912345678",
            "hộ nghèo",
            "",
        ],  # fine on its own
        ["2", "TL-010", "Ấp Không Có", "Lý Văn Sai", "", "", "", ""],
        ["3", "", "Ấp 3", "Không Mã", "", "", "", ""],
        ["4", "TL-011", "Ấp 3", "", "", "", "", ""],
        ["", "", "", "", "", "", "", ""],
        ["5", "TL-012", "Ấp 3", "Đỗ Văn Số", "", "09123", "", ""],
        ["6", "TL-001", "Ấp 3", "Trùng Mã", "", "", "giàu", ""],
        ["7", "TL-013", "Thôn Đông", "Khác Xã", "", "0212345678", "", "zalo-1, zalo-1"],
        ["8", "TL-014", "Ấp 3", "Trùng Zalo", "", "", "", "zalo-1"],
    ]
    path = write_csv(tmp_path / "sai.csv", bad)
    async with sessions() as session:
        commune_id = await session.scalar(select(Commune.id).where(Commune.slug == "tan-loi"))
        assert commune_id is not None
        with pytest.raises(ImportProblems) as caught:
            await import_households(session, commune_id, path, LATER)
        await session.rollback()
    assert caught.value.problems == [
        "Dòng 3: Ấp 'Ấp Không Có' không có trong danh sách ấp của xã",
        "Dòng 4: thiếu Mã hộ",
        "Dòng 5: thiếu Chủ hộ",
        "Dòng 7: Số điện thoại '09123' không hợp lệ",
        "Dòng 8: Mã hộ 'TL-001' trùng với dòng 2",
        "Dòng 8: Phân loại 'giàu' không hợp lệ "
        "(ghi: hộ nghèo, hộ cận nghèo, hộ mới thoát nghèo, khác hoặc để trống)",
        "Dòng 9: Ấp 'Thôn Đông' không có trong danh sách ấp của xã",
        "Dòng 9: Số điện thoại '0212345678' không hợp lệ",
        "Dòng 10: Zalo ID 'zalo-1' đã có ở dòng 9 (mỗi tài khoản Zalo chỉ thuộc một hộ)",
    ]

    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, path, out, err, LATER, "tan-loi") == 1
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert lines[0] == (
        "Không nhập được tệp sai.csv: 9 lỗi, chưa ghi gì vào cơ sở dữ liệu. "
        "Sửa các dòng sau rồi nhập lại cả tệp:"
    )
    assert lines[1:] == [f"- {p}" for p in caught.value.problems]
    async with sessions() as session:
        after = {
            c: (h.head_name, h.phone, h.category, h.updated_at)
            for c, h in (await households(session)).items()
        }
        assert after == before
        assert await members(session) == members_before


async def test_missing_columns_and_unreadable_files(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "thieu.csv", [["Mã hộ", "Tên"], ["TL-1", "A"]])
    err = io.StringIO()
    assert await households_import_command(sessions, path, io.StringIO(), err, NOW, "tan-loi") == 1
    assert "- Dòng 1: thiếu cột 'Ấp'\n- Dòng 1: thiếu cột 'Chủ hộ'\n" in err.getvalue()

    old = tmp_path / "ho.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportProblems, match=r"chỉ nhận tệp \.csv hoặc \.xlsx"):
        read_rows(old)
    latin = tmp_path / "ansi.csv"
    latin.write_bytes(
        "Mã hộ,Ấp,Chủ hộ\nA1,Tân Lợi,Nguyễn Văn Ân\n".encode("cp1252", errors="replace")
    )
    with pytest.raises(ImportProblems, match="UTF-8"):
        read_rows(latin)
    broken = tmp_path / "hong.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ImportProblems, match="Không đọc được tệp Excel"):
        read_rows(broken)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Household)) == 0


def test_read_rows_accepts_comma_semicolon_and_bom(tmp_path: Path) -> None:
    rows = [
        ["Mã hộ", "Ấp", "Chủ hộ", "Địa chỉ"],
        ["A1", "Tân Hòa", "Nguyễn Văn An", "Tổ 1, ấp Tân Hòa"],
    ]
    expected = [
        {"Mã hộ": "A1", "Ấp": "Tân Hòa", "Chủ hộ": "Nguyễn Văn An", "Địa chỉ": "Tổ 1, ấp Tân Hòa"}
    ]
    assert read_rows(write_csv(tmp_path / "a.csv", rows, ",")) == expected
    assert read_rows(write_csv(tmp_path / "b.csv", rows, ";", bom=True)) == expected


async def test_twenty_thousand_rows_import_with_a_progress_bar(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    hamlets = ["Ấp Tân Hòa", "Phu Loi", "Ấp 3"]
    categories = ["hộ nghèo", "cận nghèo", "thoát nghèo", ""]
    lines = [",".join(HEADER)]
    for n in range(20_000):
        zalo = f"zalo-{n + 1}" if n < 4 else ""
        lines.append(
            f"{n + 1},HO-{n:05d},{hamlets[n % 3]},Chủ hộ {n},,09{n:08d},{categories[n % 4]},{zalo}"
        )
    path = tmp_path / "lon.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, path, out, err, NOW, "tan-loi") == 0, (
        err.getvalue()
    )
    assert out.getvalue().startswith(
        "Đã nhập 20.000 hộ từ tệp lon.csv: 20.000 hộ mới, 0 hộ cập nhật, 0 hộ không đổi; "
        "liên kết thêm 4 tài khoản Zalo với hộ."
    )
    bar = err.getvalue()
    assert bar.startswith("\r[..........] 1.000/20.000 hộ\r[#.........] 2.000/20.000 hộ")
    assert bar.endswith("\r[##########] 20.000/20.000 hộ\n")
    assert "\r[#####.....] 10.000/20.000 hộ" in bar

    async with sessions() as session:
        ids = await hamlet_ids(session)
        assert await session.scalar(select(func.count()).select_from(Household)) == 20_000
        sample = {
            h.code: (h.hamlet_id, h.phone, h.category)
            for h in await session.scalars(
                select(Household).where(Household.code.in_(["HO-00000", "HO-12345", "HO-19999"]))
            )
        }
        assert sample == {
            "HO-00000": (ids["Ấp Tân Hòa"], "0900000000", "poor"),
            "HO-12345": (ids["Ấp Tân Hòa"], "0900012345", "near_poor"),
            "HO-19999": (ids["Ấp Phú Lợi"], "0900019999", "other"),
        }
        grouped = await session.execute(
            select(Household.category, func.count()).group_by(Household.category)
        )
        counts = {category: count for category, count in grouped}
        assert counts == {"poor": 5000, "near_poor": 5000, "newly_escaped": 5000, "other": 5000}
        assert len(await members(session)) == 4


async def test_no_commune_yet(database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    try:
        err = io.StringIO()
        path = write_csv(tmp_path / "ho.csv", GOOD)
        assert (
            await households_import_command(
                make_sessionmaker(engine), path, io.StringIO(), err, NOW
            )
            == 1
        )
        assert "chưa có xã nào" in err.getvalue()
    finally:
        await engine.dispose()


def with_broken_formulas(path: Path) -> None:
    """Turn every error cell of a saved workbook into a formula caching that error, as Excel saves it."""
    import re
    import zipfile

    source = zipfile.ZipFile(path)
    parts = {name: source.read(name) for name in source.namelist()}
    source.close()
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    sheet, count = re.subn(
        r'(<c r="[A-Z]+\d+" t="e">)(<v>)', r"\1<f>VLOOKUP(A1,Cu!A:B,2,0)</f>\2", sheet
    )
    assert count > 0
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


async def test_excel_error_values_are_problems_on_their_rows_not_data(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["DANH SÁCH HỘ NGHÈO NĂM 2026"])
    sheet.append([])
    sheet.append(HEADER)
    sheet.append(["1", "TL-201", "Ấp Tân Hòa", "#REF!", "", "", "hộ nghèo", ""])
    sheet.append(["2", "#N/A", "Ấp 3", "Trần Văn Ba", "", "", "", ""])
    sheet.append(["3", "TL-203", "#NAME?", "Lê Thị Tư", "", "#VALUE!", "#DIV/0!", "#NUM!"])
    sheet.append(["4", "TL-204", "Ấp 3", "Phan Văn Năm", "#NULL!", "", "", ""])
    sheet.append(["5", "TL-205", "Ấp 3", "Võ Thị Sáu", "", "", "", ""])  # a good row
    path = tmp_path / "ho-loi.xlsx"
    book.save(path)
    with_broken_formulas(path)

    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, path, out, err, NOW, "tan-loi") == 1
    assert out.getvalue() == ""
    fix = "(công thức hỏng); sửa ô này trong Excel rồi nhập lại"
    assert err.getvalue().splitlines()[1:] == [
        f"- Dòng 4: ô Chủ hộ có giá trị lỗi của Excel '#REF!' {fix}",
        f"- Dòng 5: ô Mã hộ có giá trị lỗi của Excel '#N/A' {fix}",
        f"- Dòng 6: ô Ấp có giá trị lỗi của Excel '#NAME?' {fix}",
        f"- Dòng 6: ô Số điện thoại có giá trị lỗi của Excel '#VALUE!' {fix}",
        f"- Dòng 6: ô Phân loại có giá trị lỗi của Excel '#DIV/0!' {fix}",
        f"- Dòng 6: ô Zalo ID có giá trị lỗi của Excel '#NUM!' {fix}",
        f"- Dòng 7: ô Địa chỉ có giá trị lỗi của Excel '#NULL!' {fix}",
    ]
    async with sessions() as session:
        assert await households(session) == {}  # nothing imported, not even the good row


async def test_excel_error_text_in_a_csv_is_a_problem_too(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "ho.csv", [HEADER, ["1", "TL-301", "Ấp 3", "#ref!", "", "", "", ""]]
    )
    out, err = io.StringIO(), io.StringIO()
    assert await households_import_command(sessions, path, out, err, NOW, "tan-loi") == 1
    assert "Dòng 2: ô Chủ hộ có giá trị lỗi của Excel '#ref!'" in err.getvalue()
    async with sessions() as session:
        assert await households(session) == {}
