"""The admin commands behind `loa faq import FILE` and `loa faq match`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chat.faq.book import FaqBook
from bot.chat.faq.loader import FaqImportError, import_faq, load_items, read_faq
from bot.chat.unanswered import unanswered_groups
from bot.clock import VN_TZ


async def faq_import_command(
    session_factory: async_sessionmaker[AsyncSession], path: Path, out: TextIO, now: datetime
) -> int:
    """Import a FAQ file (all entries or none); prints a summary or every problem; returns the exit code."""
    try:
        items = read_faq(path)
    except FaqImportError as exc:
        out.write(
            f"Không nhập được tệp {path}: {len(exc.problems)} lỗi, chưa ghi gì vào cơ sở dữ liệu.\n"
        )
        for problem in exc.problems:
            out.write(f"- {problem}\n")
        return 1
    async with session_factory() as session, session.begin():
        created, updated = await import_faq(session, items, now)
    unchanged = len(items) - created - updated
    out.write(
        f"Đã nhập {len(items)} mục từ {path}: {created} mục mới, {updated} mục cập nhật, "
        f"{unchanged} mục không đổi.\n"
    )
    return 0


async def faq_match_command(
    session_factory: async_sessionmaker[AsyncSession], stdin: TextIO, stdout: TextIO
) -> int:
    """Match each non-blank stdin line against the stored FAQ; one JSON object per line."""
    async with session_factory() as session:
        items = await load_items(session)
    # The same book the bot answers residents from, so both give the same decisions.
    book = FaqBook(items)
    print(f"FAQ: {book.scorer}", file=sys.stderr)
    for line in stdin:
        text = line.strip()
        if not text:
            continue
        d = book.decide(text)
        record = {
            "text": text,
            "outcome": d.outcome,
            "id": d.entry_id if d.outcome == "answer" else None,
            "score": d.score,
            "alternatives": [{"id": a.id, "score": a.score} for a in d.alternatives],
        }
        stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        stdout.flush()
    return 0


async def faq_unanswered_command(
    session_factory: async_sessionmaker[AsyncSession], out: TextIO
) -> int:
    """Print the unanswered questions grouped by similarity, the most asked first."""
    async with session_factory() as session:
        groups = await unanswered_groups(session)
    if not groups:
        out.write("Chưa có câu hỏi nào bot chưa trả lời được.\n")
        return 0
    total = sum(g.count for g in groups)
    out.write(f"{total} câu hỏi bot chưa trả lời được, {len(groups)} nhóm:\n")
    for g in groups:
        last = g.last_at.astimezone(VN_TZ).strftime("%Hh%M %d/%m/%Y") if g.last_at else ""
        left = f", {g.left_clarify} lần bỏ qua các gợi ý" if g.left_clarify else ""
        examples = "; ".join(f"“{e}”" for e in g.examples)
        out.write(f"- {g.count} lần (lần cuối {last}{left}): {examples}\n")
    out.write(
        "Thêm mục mới hoặc cách hỏi mới ở trang Hỏi đáp của bàn làm việc, hoặc bằng loa faq import.\n"
    )
    return 0
