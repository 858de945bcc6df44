"""Questions the bot could not answer: kept folded and without the sender, grouped for officials.

A group is a set of questions that share most of their words; an official turns a group into a new
FAQ entry or a new phrasing of an existing one, then marks it handled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.models import UnansweredQuestion
from bot.text import fold

FALLBACK = "fallback"
CLARIFY_LEFT = "clarify"  # the bot offered choices and the resident took none
SIMILAR = 0.5  # share of words two questions have in common (Jaccard) to be one group
SHOWN_EXAMPLES = 3


def record(session: AsyncSession, text: str, now: datetime, outcome: str) -> None:
    """Keep one unanswered message, folded; the resident is not recorded."""
    folded = fold(text)[:500]
    if folded:
        session.add(UnansweredQuestion(text=folded, outcome=outcome, asked_at=now))


@dataclass
class Group:
    """Similar unanswered questions: how many, which ones, the latest."""

    ids: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    words: frozenset[str] = frozenset()
    last_at: datetime | None = None
    left_clarify: int = 0

    @property
    def count(self) -> int:
        """How many times it was asked."""
        return len(self.ids)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in text.split() if len(w) > 1)


def _similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return a == b
    return len(a & b) / len(a | b) >= SIMILAR


async def unanswered_groups(session: AsyncSession, limit: int = 5000) -> list[Group]:
    """The newest unhandled questions grouped by shared words, the most asked first."""
    rows = (
        await session.scalars(
            select(UnansweredQuestion)
            .where(UnansweredQuestion.handled_at.is_(None))
            .order_by(UnansweredQuestion.asked_at.desc(), UnansweredQuestion.id.desc())
            .limit(limit)
        )
    ).all()
    groups: list[Group] = []
    for row in rows:
        words = _words(row.text)
        group = next((g for g in groups if _similar(g.words, words)), None)
        if group is None:
            group = Group(words=words, last_at=row.asked_at)
            groups.append(group)
        group.ids.append(row.id)
        group.left_clarify += row.outcome == CLARIFY_LEFT
        if row.text not in group.examples and len(group.examples) < SHOWN_EXAMPLES:
            group.examples.append(row.text)
    return sorted(groups, key=lambda g: (-g.count, -(g.last_at.timestamp() if g.last_at else 0)))


async def mark_handled(
    session: AsyncSession, ids: list[int], staff_id: int | None, now: datetime
) -> int:
    """Set these questions aside (an entry or a phrasing now covers them); how many."""
    if not ids:
        return 0
    result = await session.execute(
        update(UnansweredQuestion)
        .where(UnansweredQuestion.id.in_(ids), UnansweredQuestion.handled_at.is_(None))
        .values(handled_at=now, handled_by=staff_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget_older_than(session: AsyncSession, cutoff: datetime) -> int:
    """Delete questions asked before the chat retention cutoff; how many."""
    result = await session.execute(
        delete(UnansweredQuestion).where(UnansweredQuestion.asked_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
