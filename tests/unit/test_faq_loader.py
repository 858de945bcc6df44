"""FAQ file validation, import into the database, and the commands."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chat.faq.commands import faq_import_command, faq_match_command
from bot.chat.faq.loader import (
    BUNDLED_FAQ,
    FaqImportError,
    FaqItem,
    import_faq,
    load_items,
    parse_faq,
    read_faq,
    seed_if_empty,
)
from bot.chat.models import FaqEntry
from bot.db.base import Base
from bot.db.engine import make_engine, make_sessionmaker

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

GOOD = """
- id: vay-ho-ngheo
  topic: vay-von
  questions: ["Hộ nghèo vay vốn được bao nhiêu?"]
  keywords: ["vay hộ nghèo"]
  answer: "Tối đa 100 triệu đồng."
  source: "NHCSXH"
  checked: 2026-10-01
- id: tien-dien
  topic: dien
  questions: ["Hộ nghèo được hỗ trợ tiền điện không?"]
  keywords: []
  answer: "Có."
  source: "QĐ 28/2014"
"""


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'faq.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield make_sessionmaker(engine)
    await engine.dispose()


def test_bundled_corpus_is_valid() -> None:
    items = read_faq(BUNDLED_FAQ)
    assert len(items) == 69
    assert len({i.id for i in items}) == 69


def test_good_file_parses_with_optional_date() -> None:
    items = parse_faq(GOOD)
    assert [i.id for i in items] == ["vay-ho-ngheo", "tien-dien"]
    assert items[0].checked is not None and items[0].checked.isoformat() == "2026-10-01"
    assert items[1].checked is None


def test_every_bad_entry_is_reported_by_position() -> None:
    bad = """
- id: ok-entry
  topic: dien
  questions: ["Câu hỏi?"]
  keywords: []
  answer: "Trả lời"
  source: "Nguồn"
- id: thieu-tra-loi
  topic: dien
  questions: ["Câu hỏi?"]
  keywords: []
  source: "Nguồn"
- id: "Sai Id"
  topic: dien
  questions: []
  keywords: "không phải danh sách"
  answer: "Trả lời"
  source: "Nguồn"
  checked: "hôm qua"
- id: ok-entry
  topic: dien
  questions: ["Câu hỏi?"]
  answer: "Trả lời"
  source: "Nguồn"
"""
    with pytest.raises(FaqImportError) as info:
        parse_faq(bad)
    problems = info.value.problems
    assert "mục 2 (id thieu-tra-loi): thiếu 'answer'" in problems
    assert any(p.startswith("mục 3 (id Sai Id): 'id'") for p in problems)
    assert any(p.startswith("mục 3") and "'questions'" in p for p in problems)
    assert any(p.startswith("mục 3") and "'keywords'" in p for p in problems)
    assert any(p.startswith("mục 3") and "'checked'" in p for p in problems)
    assert any(p.startswith("mục 4") and "trùng" in p for p in problems)
    assert not any(p.startswith("mục 1") for p in problems)


def test_not_yaml_or_not_a_list() -> None:
    with pytest.raises(FaqImportError) as info:
        parse_faq("- id: [unclosed")
    assert "YAML" in info.value.problems[0]
    with pytest.raises(FaqImportError):
        parse_faq("id: one-entry")


async def test_import_upserts_and_keeps_entries_missing_from_the_file(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            FaqEntry(
                id="rieng-cua-xa",
                topic="lien-he",
                questions=["?"],
                keywords=[],
                answer="a",
                source="s",
                checked=None,
                updated_at=NOW,
            )
        )
        assert await import_faq(session, parse_faq(GOOD), NOW) == (2, 0)
    changed = GOOD.replace("Tối đa 100 triệu đồng.", "Tối đa 150 triệu đồng.")
    async with sessions() as session, session.begin():
        assert await import_faq(session, parse_faq(changed), LATER) == (0, 1)
    async with sessions() as session:
        items = {i.id: i for i in await load_items(session)}
        row = await session.get(FaqEntry, "tien-dien")
        assert row is not None and row.updated_at == NOW  # unchanged entries keep their time
    assert set(items) == {"rieng-cua-xa", "vay-ho-ngheo", "tien-dien"}
    assert items["vay-ho-ngheo"].answer == "Tối đa 150 triệu đồng."
    assert isinstance(items["vay-ho-ngheo"], FaqItem)


async def test_seed_only_when_empty(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        assert await seed_if_empty(session, NOW) == 69
    async with sessions() as session, session.begin():
        assert await seed_if_empty(session, NOW) == 0
    async with sessions() as session:
        assert len(await load_items(session)) == 69


async def test_import_command_writes_nothing_on_error(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(GOOD + "- id: thieu-het\n", encoding="utf-8")
    out = io.StringIO()
    assert await faq_import_command(sessions, path, out, NOW) != 0
    assert "mục 3 (id thieu-het): thiếu 'answer'" in out.getvalue()
    async with sessions() as session:
        assert (await session.scalars(select(FaqEntry))).all() == []


async def test_import_command_reports_missing_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    out = io.StringIO()
    assert await faq_import_command(sessions, tmp_path / "khong-co.yaml", out, NOW) != 0
    assert "Không tìm thấy" in out.getvalue()


async def test_import_then_match_commands(sessions: async_sessionmaker[AsyncSession]) -> None:
    out = io.StringIO()
    assert await faq_import_command(sessions, BUNDLED_FAQ, out, NOW) == 0
    assert "69 mục mới" in out.getvalue()
    stdin = io.StringIO("hộ cận nghèo vay tối đa đc bao nhiêu\n\n giá vàng hôm nay \n")
    stdout = io.StringIO()
    assert await faq_match_command(sessions, stdin, stdout) == 0
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert len(lines) == 2
    assert lines[0]["text"] == "hộ cận nghèo vay tối đa đc bao nhiêu"
    assert lines[0]["outcome"] == "answer" and lines[0]["id"] == "vay-ho-can-ngheo"
    assert lines[1]["outcome"] == "fallback" and lines[1]["id"] is None
    assert all(0 <= line["score"] <= 1 for line in lines)
    assert set(lines[0]) == {"text", "outcome", "id", "score", "alternatives"}
    assert "ả" in stdout.getvalue() or "ệ" in stdout.getvalue() or "ộ" in stdout.getvalue()
