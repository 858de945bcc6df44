"""The FAQ file format: parsing, validation, and import into the faq_entries table."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.models import FaqEntry

BUNDLED_FAQ = Path(__file__).resolve().parent / "data" / "poverty-faq.yaml"

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MAX_ID = 128  # the column's width
_MAX_TOPIC = 64
# The desk's FAQ pages live beside the entries' (/admin/faq/new): an entry may not take their names.
RESERVED_IDS = frozenset({"new", "import", "unanswered", "save"})
_TEXT_FIELDS = ("topic", "answer", "source")


@dataclass(frozen=True)
class FaqItem:
    """One FAQ entry as the matcher and the replies use it."""

    id: str
    topic: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    source: str
    checked: date | None = None


class FaqImportError(Exception):
    """Every problem found in a FAQ file, in Vietnamese, each naming the entry's position."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _label(position: int, raw: Any) -> str:
    """How a problem names its entry: "mục 3 (id abc)", or just "mục 3" when there is no usable id."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"].strip():
        return f"mục {position} (id {raw['id'].strip()})"
    return f"mục {position}"


def _text_list(
    raw: Any, field: str, where: str, problems: list[str], *, required: bool
) -> tuple[str, ...]:
    """A list of non-empty strings, or a problem saying what is wrong with it."""
    if raw is None:
        if required:
            problems.append(f"{where}: thiếu '{field}'")
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}: '{field}' phải là một danh sách")
        return ()
    values: list[str] = []
    for n, value in enumerate(raw, start=1):
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: '{field}' thứ {n} phải là chữ, không được để trống")
            continue
        values.append(value.strip())
    if required and not raw:
        problems.append(f"{where}: '{field}' cần ít nhất một câu")
    return tuple(values)


def _checked(raw: Any, where: str, problems: list[str]) -> date | None:
    """The optional date the answer was last checked (YYYY-MM-DD)."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    problems.append(f"{where}: 'checked' phải là ngày dạng NĂM-THÁNG-NGÀY, ví dụ 2026-11-30")
    return None


def parse_items(data: Any) -> list[FaqItem]:
    """Validate parsed YAML; all entries or none (FaqImportError lists every problem)."""
    if not isinstance(data, list):
        raise FaqImportError(["Tệp phải là một danh sách các mục (mỗi mục bắt đầu bằng dấu '-')"])
    if not data:
        raise FaqImportError(["Tệp không có mục nào"])
    problems: list[str] = []
    items: list[FaqItem] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(data, start=1):
        where = _label(position, raw)
        if not isinstance(raw, dict):
            problems.append(f"{where}: phải là một mục có các trường id, topic, questions, ...")
            continue
        before = len(problems)
        entry_id = raw.get("id")
        if entry_id is None or (isinstance(entry_id, str) and not entry_id.strip()):
            problems.append(f"{where}: thiếu 'id'")
            entry_id = ""
        elif (
            not isinstance(entry_id, str)
            or not _SLUG.match(entry_id.strip())
            or len(entry_id) > _MAX_ID
        ):
            problems.append(
                f"{where}: 'id' chỉ gồm chữ thường không dấu, số và dấu gạch ngang (ví dụ vay-ho-ngheo)"
            )
            entry_id = ""
        elif entry_id.strip() in RESERVED_IDS:
            problems.append(f"{where}: 'id' không được là “{entry_id.strip()}” (tên một trang)")
            entry_id = ""
        else:
            entry_id = entry_id.strip()
            if entry_id in seen:
                problems.append(f"{where}: 'id' trùng với mục {seen[entry_id]}")
            else:
                seen[entry_id] = position
        texts: dict[str, str] = {}
        for field in _TEXT_FIELDS:
            value = raw.get(field)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(f"{where}: thiếu '{field}'")
            elif not isinstance(value, str):
                problems.append(f"{where}: '{field}' phải là chữ")
            else:
                texts[field] = value.strip()
        if len(texts.get("topic", "")) > _MAX_TOPIC:
            problems.append(f"{where}: 'topic' dài quá {_MAX_TOPIC} ký tự")
        questions = _text_list(raw.get("questions"), "questions", where, problems, required=True)
        keywords = _text_list(raw.get("keywords"), "keywords", where, problems, required=False)
        checked = _checked(raw.get("checked"), where, problems)
        unknown = sorted(
            str(k)
            for k in raw
            if k not in {"id", "questions", "keywords", "checked", *_TEXT_FIELDS}
        )
        if unknown:
            problems.append(f"{where}: trường không biết: {', '.join(unknown)}")
        if len(problems) == before:
            items.append(
                FaqItem(
                    id=entry_id,
                    topic=texts["topic"],
                    questions=questions,
                    keywords=keywords,
                    answer=texts["answer"],
                    source=texts["source"],
                    checked=checked,
                )
            )
    if problems:
        raise FaqImportError(problems)
    return items


def parse_faq(text: str) -> list[FaqItem]:
    """Parse the YAML text of a FAQ file into validated items."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (dòng {mark.line + 1}, cột {mark.column + 1})" if mark is not None else ""
        raise FaqImportError([f"Tệp không đúng định dạng YAML{where}"]) from exc
    return parse_items(data)


def read_faq(path: Path) -> list[FaqItem]:
    """Read and validate a FAQ file from disk."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise FaqImportError([f"Không tìm thấy tệp {path}"]) from exc
    except UnicodeDecodeError as exc:
        raise FaqImportError([f"Tệp {path} không phải chữ UTF-8"]) from exc
    except OSError as exc:
        raise FaqImportError([f"Không đọc được tệp {path}: {exc.strerror}"]) from exc
    return parse_faq(text)


def _row_values(item: FaqItem) -> dict[str, Any]:
    """The column values an item writes."""
    return {
        "topic": item.topic,
        "questions": list(item.questions),
        "keywords": list(item.keywords),
        "answer": item.answer,
        "source": item.source,
        "checked": item.checked,
    }


async def import_faq(
    session: AsyncSession, items: Iterable[FaqItem], now: datetime
) -> tuple[int, int]:
    """Upsert items by id (entries missing from the file stay); returns (created, updated). Caller commits."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    items = list(items)
    ids = [item.id for item in items]
    existing = {
        row.id: row
        for row in (await session.scalars(select(FaqEntry).where(FaqEntry.id.in_(ids)))).all()
    }
    created = updated = 0
    for item in items:
        values = _row_values(item)
        row = existing.get(item.id)
        if row is None:
            session.add(FaqEntry(id=item.id, updated_at=now, **values))
            created += 1
            continue
        if any(getattr(row, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = now
            updated += 1
    await session.flush()
    return created, updated


def _item_of(row: FaqEntry) -> FaqItem:
    """The matcher's view of a stored row."""
    return FaqItem(
        id=row.id,
        topic=row.topic,
        questions=tuple(row.questions or ()),
        keywords=tuple(row.keywords or ()),
        answer=row.answer,
        source=row.source,
        checked=row.checked,
    )


async def load_items(session: AsyncSession) -> list[FaqItem]:
    """Every stored FAQ entry, ordered by id."""
    rows = (await session.scalars(select(FaqEntry).order_by(FaqEntry.id))).all()
    return [_item_of(row) for row in rows]


async def seed_if_empty(session: AsyncSession, now: datetime, path: Path = BUNDLED_FAQ) -> int:
    """Import the bundled FAQ when the table is empty; returns how many entries were created."""
    count = await session.scalar(select(func.count()).select_from(FaqEntry))
    if count:
        return 0
    created, _ = await import_faq(session, read_faq(path), now)
    return created


def items_by_id(items: Sequence[FaqItem]) -> dict[str, FaqItem]:
    """Items keyed by id."""
    return {item.id: item for item in items}
