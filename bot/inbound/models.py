"""Tables of inbound."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class InboxStatus(StrEnum):
    """Where an accepted webhook event is in its processing."""

    PENDING = "pending"  # stored and acknowledged, not yet handled
    DONE = "done"  # handled; its effects are committed
    FAILED = "failed"  # handling raised too often; kept for a person to look at


class InboxEvent(Base):
    """A webhook event Zalo was told we accepted; the durable record of it."""

    __tablename__ = "inbox_events"
    __table_args__ = (Index("ix_inbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    event_name: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)  # the raw JSON text as received
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
