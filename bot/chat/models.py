"""Tables of chat."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class ConversationMode(StrEnum):
    """Who answers a resident."""

    BOT = "bot"  # the bot answers
    HUMAN = "human"  # a person took over; the bot keeps quiet until released


class Conversation(Base):
    """The bot's state in one resident's 1:1 chat."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), unique=True)
    mode: Mapped[str] = mapped_column(String(16), default=ConversationMode.BOT)
    human_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    helper_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    misses: Mapped[int] = mapped_column(Integer, default=0)
    # What the bot last asked and how to read a one-digit answer to it, e.g.
    # {"kind": "clarify", "choices": ["faq-id-1", "faq-id-2"]} or {"kind": "hamlet", "choices": [3, 4]}.
    pending: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Handoff(Base):
    """A conversation handed to a person, from the request to "xong" or expiry."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))  # asked / misses / media / oa_manager
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(32))  # helper / expired


class FaqEntry(Base):
    """One answer of the FAQ, with the phrasings and keywords that lead to it."""

    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    questions: Mapped[list[str]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    checked: Mapped[date | None] = mapped_column(Date)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FaqDraft(Base):
    """An entry being written or changed on the desk; the bot never answers from it until published."""

    __tablename__ = "faq_drafts"

    entry_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    questions: Mapped[list[str]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    checked: Mapped[date | None] = mapped_column(Date)
    author_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UnansweredQuestion(Base):
    """A message the bot could not answer, kept to improve the FAQ: folded text only, no sender.

    Deleted with the chat content after LOA_CHAT_RETENTION_DAYS."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(500))  # folded: lowercase, no diacritics
    outcome: Mapped[str] = mapped_column(String(16))  # fallback / clarify (left unchosen)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
