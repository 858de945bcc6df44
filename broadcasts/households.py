"""The commune's household list: `loa households import FILE.csv|xlsx` (all rows or none)."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.directory.hamlet_names import HamletNames
from bot.directory.models import Commune, Hamlet, Resident
from bot.directory.people import UnknownCommune, select_commune
from bot.text import fold
from broadcasts.models import Household, HouseholdCategory, HouseholdMember

# Canonical field -> the folded headers that name it (the first one is what the docs and errors show).
FIELDS = ("code", "hamlet", "head_name", "address", "phone", "category", "zalo_id")
REQUIRED = ("code", "hamlet", "head_name")
DISPLAY = {
    "code": "Mã hộ",
    "hamlet": "Ấp",
    "head_name": "Chủ hộ",
    "address": "Địa chỉ",
    "phone": "Số điện thoại",
    "category": "Phân loại",
    "zalo_id": "Zalo ID",
}
_HEADERS: dict[str, tuple[str, ...]] = {
    "code": ("ma ho", "ma ho gia dinh", "ma so ho"),
    "hamlet": ("ap", "thon", "ban", "to dan pho", "ap thon", "thon ap", "khu pho", "xom"),
    "head_name": ("chu ho", "ho ten chu ho", "ten chu ho", "ho va ten chu ho"),
    "address": ("dia chi",),
    "phone": ("so dien thoai", "dien thoai", "sdt", "so dt"),
    "category": ("phan loai", "phan loai ho", "loai ho"),
    "zalo_id": ("zalo id", "zalo", "ma zalo", "zalo user id"),
}
_HEADER_FIELD = {alias: field for field, aliases in _HEADERS.items() for alias in aliases}

_CATEGORIES: dict[str, HouseholdCategory] = {
    "": HouseholdCategory.OTHER,
    "khac": HouseholdCategory.OTHER,
    "ho khac": HouseholdCategory.OTHER,
    "other": HouseholdCategory.OTHER,
    "ngheo": HouseholdCategory.POOR,
    "ho ngheo": HouseholdCategory.POOR,
    "hn": HouseholdCategory.POOR,
    "poor": HouseholdCategory.POOR,
    "can ngheo": HouseholdCategory.NEAR_POOR,
    "ho can ngheo": HouseholdCategory.NEAR_POOR,
    "hcn": HouseholdCategory.NEAR_POOR,
    "near poor": HouseholdCategory.NEAR_POOR,
    "thoat ngheo": HouseholdCategory.NEWLY_ESCAPED,
    "moi thoat ngheo": HouseholdCategory.NEWLY_ESCAPED,
    "ho thoat ngheo": HouseholdCategory.NEWLY_ESCAPED,
    "ho moi thoat ngheo": HouseholdCategory.NEWLY_ESCAPED,
    "hmtn": HouseholdCategory.NEWLY_ESCAPED,
    "newly escaped": HouseholdCategory.NEWLY_ESCAPED,
}

MAX_LENGTHS = {"code": 64, "head_name": 200, "address": 300, "zalo_id": 64}
HEADER_SCAN_ROWS = 20  # title rows ("DANH SÁCH HỘ NGHÈO NĂM 2025") may stand above the header
CHUNK = 1000  # rows written (and progress reported) per flush
BAR_WIDTH = 10
BAR_MIN_ROWS = 1000  # smaller files import too fast for a progress bar to matter

# What a cell shows when its formula is broken: Excel caches the error as the cell's value, and a CSV
# saved from the sheet writes the same text. None of them is a name, a code or a number.
EXCEL_ERRORS = frozenset(
    {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
        "#FIELD!",
        "#BLOCKED!",
        "#CONNECT!",
        "#BUSY!",
        "#UNKNOWN!",
    }
)

_PHONE_NOISE = re.compile(r"[\s.\-()/]+")
_MOBILE = re.compile(r"[35789]\d{8}", re.ASCII)
_ID_SPLIT = re.compile(r"[,;\s]+")


class ImportProblems(Exception):
    """A household file that cannot be imported; `.problems` lists every reason, in Vietnamese."""

    def __init__(self, problems: list[str]) -> None:
        """Keep every problem; the message joins them."""
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ImportResult:
    """What an import changed: households created and updated, Zalo accounts newly linked."""

    created: int
    updated: int
    linked: int
    unchanged: int = 0  # households already exactly as in the file
    warnings: tuple[
        str, ...
    ] = ()  # e.g. Zalo IDs not (yet) known to the OA; they do not stop an import


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    hamlet_id: int
    head_name: str
    address: str | None
    phone: str | None
    category: str
    zalo_ids: tuple[str, ...]


# ------------------------------------------------------------------------------------- text


def normalize_phone(raw: str) -> str | None:
    """A Vietnamese mobile number as 0xxxxxxxxx (from 0…, +84…, 84… or a 0-less Excel number), or None."""
    digits = _PHONE_NOISE.sub("", raw.strip().lstrip("'"))
    if digits.startswith("+84"):
        rest = digits[3:]
    elif digits.startswith("0084"):
        rest = digits[4:]
    elif digits.startswith("84") and len(digits) == 11:
        rest = digits[2:]
    elif digits.startswith("0"):
        rest = digits[1:]
    elif len(digits) == 9:  # a number typed into an Excel number cell loses its leading 0
        rest = digits
    else:
        return None
    if len(rest) == 10 and rest.startswith("0"):  # "+84 0912 345 678"
        rest = rest[1:]
    return "0" + rest if _MOBILE.fullmatch(rest) else None


def parse_category(raw: str) -> HouseholdCategory | None:
    """The category a "Phân loại" cell names (empty means khác), or None when it names none."""
    return _CATEGORIES.get(fold(raw))


class _HamletIndex:
    """Finds a commune's hamlet id by its name (the shared spelling rule) and says when it is ambiguous."""

    def __init__(self, hamlets: Iterable[Hamlet]) -> None:
        self._names = HamletNames(hamlets)

    def find(self, name: str) -> tuple[int | None, bool]:
        """The hamlet id (or None) and whether the name fits several hamlets."""
        found = self._names.matches(name)
        return (found[0].id, False) if len(found) == 1 else (None, len(found) > 1)


# ------------------------------------------------------------------------------------ files


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # codes and phone numbers stored as Excel numbers
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).replace("\xa0", " ")
    return unicodedata.normalize("NFC", text).strip()


def _csv_lines(path: Path) -> Iterator[tuple[int, list[str]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblems(
            [
                f"Tệp {path.name} không phải mã UTF-8. Trong Excel chọn Lưu thành (Save As) → "
                "“CSV UTF-8 (Comma delimited)”, hoặc lưu thành tệp .xlsx, rồi nhập lại."
            ]
        ) from None
    sample = [line for line in text.splitlines()[:10] if line.strip()][:5]
    counts = {d: sum(line.count(d) for line in sample) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for number, cells in enumerate(reader, start=1):
        yield number, [_cell_text(c) for c in cells]


def _xlsx_sheets(path: Path) -> list[list[tuple[int, list[str]]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises zip, XML and key errors alike
        raise ImportProblems(
            [
                f"Không đọc được tệp Excel {path.name} ({type(exc).__name__}); hãy mở bằng Excel và lưu lại."
            ]
        ) from None
    try:
        sheets = []
        for sheet in book.worksheets:
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # some generators write a wrong size; read every row there is
            rows = [
                (number, [_cell_text(v) for v in values])
                for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
            sheets.append(rows)
            at = _header_at(rows)
            if at is not None and any(_HEADER_FIELD.get(fold(c)) == "code" for c in rows[at][1]):
                break  # the household list; later sheets are not read
        return sheets
    finally:
        book.close()


def _header_at(lines: list[tuple[int, list[str]]]) -> int | None:
    """Index of the header line: the first of the top lines with a "Mã hộ" column, else the first one."""
    first: int | None = None
    for index, (_number, cells) in enumerate(lines):
        if not any(cells):
            continue
        if first is None:
            first = index
        if any(_HEADER_FIELD.get(fold(c)) == "code" for c in cells):
            return index
        if index - first >= HEADER_SCAN_ROWS:
            break
    return first


def _read_table(path: Path) -> tuple[int, list[str], list[tuple[int, list[str]]]]:
    """(header line number, header cells, [(line number, cells)] of the non-blank lines under it)."""
    if not path.is_file():
        raise ImportProblems([f"Không tìm thấy tệp {path}."])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        candidates = [list(_csv_lines(path))]
    elif suffix in (".xlsx", ".xlsm"):
        candidates = _xlsx_sheets(path)
    else:
        raise ImportProblems(
            [
                f"Không nhận tệp {path.name}: chỉ nhận tệp .csv hoặc .xlsx "
                "(tệp .xls cũ: mở bằng Excel rồi lưu thành .xlsx)."
            ]
        )
    chosen: tuple[list[tuple[int, list[str]]], int] | None = None
    for lines in candidates:  # the first sheet with a "Mã hộ" header, else the first with anything
        at = _header_at(lines)
        if at is None:
            continue
        if any(_HEADER_FIELD.get(fold(c)) == "code" for c in lines[at][1]):
            chosen = (lines, at)
            break
        chosen = chosen or (lines, at)
    if chosen is None:
        raise ImportProblems([f"Tệp {path.name} không có dữ liệu."])
    lines, at = chosen
    header_line, header = lines[at]
    body = [(number, cells) for number, cells in lines[at + 1 :] if any(cells)]
    return header_line, header, body


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file's non-blank rows under its header, keyed by the header cells as written (values trimmed)."""
    _line, header, body = _read_table(path)
    rows = []
    for _number, cells in body:
        row = {}
        for index, name in enumerate(header):
            if name and name not in row:
                row[name] = cells[index] if index < len(cells) else ""
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------- validation


def _columns(
    header_line: int, header: list[str], hamlet_word: str
) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(header):
        field = _HEADER_FIELD.get(fold(cell))
        if field is None:
            continue  # STT, Ghi chú and other columns of the commune's own are ignored
        if field in columns:
            problems.append(
                f"Dòng {header_line}: cột '{cell}' trùng với cột '{header[columns[field]]}' "
                f"(chỉ giữ một cột {_display(field, hamlet_word)})"
            )
        else:
            columns[field] = index
    for field in REQUIRED:
        if field not in columns:
            problems.append(f"Dòng {header_line}: thiếu cột '{_display(field, hamlet_word)}'")
    return columns, problems


def _display(field: str, hamlet_word: str) -> str:
    return hamlet_word.capitalize() if field == "hamlet" else DISPLAY[field]


def _validate(
    header_line: int,
    header: list[str],
    body: list[tuple[int, list[str]]],
    hamlets: _HamletIndex,
    hamlet_word: str,
) -> list[_Row]:
    columns, problems = _columns(header_line, header, hamlet_word)
    if problems:
        raise ImportProblems(problems)
    word = hamlet_word.capitalize()
    rows: list[_Row] = []
    code_lines: dict[str, int] = {}
    zalo_lines: dict[str, int] = {}
    for line, cells in body:
        value = {f: cells[i] if i < len(cells) else "" for f, i in columns.items()}
        if not any(value.values()):
            continue  # a numbered but empty template line
        here = []
        broken = [f for f in FIELDS if value.get(f, "").upper() in EXCEL_ERRORS]
        for field in broken:
            here.append(
                f"Dòng {line}: ô {_display(field, hamlet_word)} có giá trị lỗi của Excel "
                f"'{value[field]}' (công thức hỏng); sửa ô này trong Excel rồi nhập lại"
            )
            value[field] = ""
        code = " ".join(value["code"].split())
        if not code:
            if "code" not in broken:
                here.append(f"Dòng {line}: thiếu Mã hộ")
        elif code in code_lines:
            here.append(f"Dòng {line}: Mã hộ '{code}' trùng với dòng {code_lines[code]}")
        else:
            code_lines[code] = line
        hamlet_id: int | None = None
        if not value["hamlet"]:
            if "hamlet" not in broken:
                here.append(f"Dòng {line}: thiếu {word}")
        else:
            hamlet_id, ambiguous = hamlets.find(value["hamlet"])
            if ambiguous:
                here.append(
                    f"Dòng {line}: {word} '{value['hamlet']}' khớp với nhiều {hamlet_word}, ghi rõ tên"
                )
            elif hamlet_id is None:
                here.append(
                    f"Dòng {line}: {word} '{value['hamlet']}' không có trong danh sách {hamlet_word} của xã"
                )
        head_name = " ".join(value["head_name"].split())
        if not head_name and "head_name" not in broken:
            here.append(f"Dòng {line}: thiếu Chủ hộ")
        phone: str | None = None
        if value.get("phone"):
            phone = normalize_phone(value["phone"])
            if phone is None:
                here.append(f"Dòng {line}: Số điện thoại '{value['phone']}' không hợp lệ")
        category = parse_category(value.get("category", ""))
        if category is None:
            here.append(
                f"Dòng {line}: Phân loại '{value['category']}' không hợp lệ "
                "(ghi: hộ nghèo, hộ cận nghèo, hộ mới thoát nghèo, khác hoặc để trống)"
            )
        zalo_ids = tuple(dict.fromkeys(z for z in _ID_SPLIT.split(value.get("zalo_id", "")) if z))
        for zalo_id in zalo_ids:
            if zalo_id in zalo_lines:
                here.append(
                    f"Dòng {line}: Zalo ID '{zalo_id}' đã có ở dòng {zalo_lines[zalo_id]} "
                    "(mỗi tài khoản Zalo chỉ thuộc một hộ)"
                )
            else:
                zalo_lines[zalo_id] = line
        address = " ".join(value.get("address", "").split())
        for field, text in (("code", code), ("head_name", head_name), ("address", address)):
            if len(text) > MAX_LENGTHS[field]:
                here.append(f"Dòng {line}: {DISPLAY[field]} dài quá {MAX_LENGTHS[field]} ký tự")
        for zalo_id in zalo_ids:
            if len(zalo_id) > MAX_LENGTHS["zalo_id"]:
                here.append(
                    f"Dòng {line}: Zalo ID '{zalo_id[:20]}…' dài quá {MAX_LENGTHS['zalo_id']} ký tự"
                )
        if here:
            problems.extend(here)
            continue
        assert hamlet_id is not None and category is not None
        rows.append(
            _Row(line, code, hamlet_id, head_name, address or None, phone, category, zalo_ids)
        )
    if problems:
        raise ImportProblems(problems)
    if not rows:
        raise ImportProblems([f"Dòng {header_line}: không có hộ nào dưới dòng tiêu đề"])
    return rows


# ---------------------------------------------------------------------------------- import


def _chunks(items: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _residents_by_zalo_id(session: AsyncSession, zalo_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(zalo_ids):
        result = await session.execute(
            select(Resident.zalo_user_id, Resident.id).where(Resident.zalo_user_id.in_(chunk))
        )
        found.update({zalo_id: ident for zalo_id, ident in result})
    return found


async def _members_of(session: AsyncSession, resident_ids: list[int]) -> dict[int, HouseholdMember]:
    found: dict[int, HouseholdMember] = {}
    for start in range(0, len(resident_ids), CHUNK):
        chunk = resident_ids[start : start + CHUNK]
        members = await session.scalars(
            select(HouseholdMember).where(HouseholdMember.resident_id.in_(chunk))
        )
        found.update({m.resident_id: m for m in members})
    return found


async def import_households(
    session: AsyncSession,
    commune_id: int,
    path: Path,
    now: datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Validate every row, then upsert households by code and link Zalo members; flushes, never commits."""
    header_line, header, body = await asyncio.to_thread(_read_table, path)
    commune = await session.get(Commune, commune_id)
    hamlet_word = (commune.hamlet_word if commune else "") or "ấp"
    hamlet_rows = await session.scalars(select(Hamlet).where(Hamlet.commune_id == commune_id))
    rows = _validate(header_line, header, body, _HamletIndex(hamlet_rows), hamlet_word)

    all_ids = [z for row in rows for z in row.zalo_ids]
    residents = await _residents_by_zalo_id(session, all_ids)
    members = await _members_of(session, list(residents.values()))
    warnings = tuple(
        f"Dòng {row.line}: Zalo ID '{z}' chưa nhắn tin hay quan tâm OA nên chưa liên kết được với hộ"
        for row in rows
        for z in row.zalo_ids
        if z not in residents
    )
    existing = {
        h.code: h
        for h in await session.scalars(select(Household).where(Household.commune_id == commune_id))
    }

    created = updated = unchanged = linked = 0
    total = len(rows)
    for start in range(0, total, CHUNK):
        chunk = rows[start : start + CHUNK]
        for row in chunk:
            values = {
                "hamlet_id": row.hamlet_id,
                "head_name": row.head_name,
                "address": row.address,
                "phone": row.phone,
                "category": row.category,
            }
            household = existing.get(row.code)
            if household is None:
                household = Household(
                    commune_id=commune_id, code=row.code, updated_at=now, **values
                )
                session.add(household)
                existing[row.code] = household
                created += 1
            elif any(getattr(household, k) != v for k, v in values.items()):
                for key, value in values.items():
                    setattr(household, key, value)
                household.updated_at = now
                updated += 1
            else:
                unchanged += 1
        await session.flush()
        for row in chunk:
            household_id = existing[row.code].id
            for zalo_id in row.zalo_ids:
                resident_id = residents.get(zalo_id)
                if resident_id is None:
                    continue
                member = members.get(resident_id)
                if member is None:
                    member = HouseholdMember(household_id=household_id, resident_id=resident_id)
                    session.add(member)
                    members[resident_id] = member
                    linked += 1
                elif member.household_id != household_id:  # moved to another household
                    member.household_id = household_id
                    linked += 1
        # A linked member whose hamlet the bot does not know yet lives where their household does.
        linked_here = {
            residents[z]: row.hamlet_id for row in chunk for z in row.zalo_ids if z in residents
        }
        if linked_here:
            for resident in await session.scalars(
                select(Resident).where(Resident.id.in_(linked_here), Resident.hamlet_id.is_(None))
            ):
                resident.hamlet_id = linked_here[resident.id]
        await session.flush()
        if progress is not None:
            progress(start + len(chunk), total)
    return ImportResult(created, updated, linked, unchanged, warnings)


# --------------------------------------------------------------------------------- command


def vn_number(n: int) -> str:
    """An integer written the Vietnamese way: 10.000."""
    return f"{n:,}".replace(",", ".")


class _ProgressBar:
    """Draws "\\r[#####.....] 5.000/10.000 hộ" on a terminal stream, for big files only."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total <= BAR_MIN_ROWS:
            return
        filled = BAR_WIDTH * done // total
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {vn_number(done)}/{vn_number(total)} hộ"
        )
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


async def households_import_command(
    sessions: async_sessionmaker[AsyncSession],
    path: Path,
    out: TextIO,
    err: TextIO,
    now: datetime,
    commune_name: str | None = None,
) -> int:
    """`loa households import FILE`: one transaction; a Vietnamese summary, or every problem and exit 1."""
    bar = _ProgressBar(err)
    try:
        async with sessions() as session, session.begin():
            try:
                commune = await select_commune(session, commune_name)
            except UnknownCommune as exc:
                err.write(f"{exc} Hãy khai báo xã và các ấp trước khi nhập hộ.\n")
                return 1
            try:
                result = await import_households(session, commune.id, path, now, progress=bar)
            finally:
                bar.close()
    except ImportProblems as exc:
        err.write(
            f"Không nhập được tệp {path.name}: {vn_number(len(exc.problems))} lỗi, "
            "chưa ghi gì vào cơ sở dữ liệu. Sửa các dòng sau rồi nhập lại cả tệp:\n"
        )
        for problem in exc.problems:
            err.write(f"- {problem}\n")
        return 1
    except SQLAlchemyError as exc:
        err.write(
            f"Không ghi được danh sách hộ vào cơ sở dữ liệu, chưa có gì thay đổi. "
            f"Hãy thử lại; nếu vẫn lỗi, báo quản trị xã (chi tiết: {type(exc).__name__}).\n"
        )
        return 1
    total = result.created + result.updated + result.unchanged
    out.write(
        f"Đã nhập {vn_number(total)} hộ từ tệp {path.name}: {vn_number(result.created)} hộ mới, "
        f"{vn_number(result.updated)} hộ cập nhật, {vn_number(result.unchanged)} hộ không đổi; "
        f"liên kết thêm {vn_number(result.linked)} tài khoản Zalo với hộ.\n"
    )
    if result.warnings:
        out.write(f"Lưu ý ({vn_number(len(result.warnings))} tài khoản Zalo chưa liên kết được):\n")
        for warning in result.warnings:
            out.write(f"- {warning}\n")
    return 0
