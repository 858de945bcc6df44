"""Tables of outbound."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class OutboxStatus(StrEnum):
    """Where an outbound message is on its way to Zalo."""

    PENDING = "pending"  # written, not yet tried (or waiting for a retry)
    SENDING = "sending"  # a send was started; a crash here leaves the outcome unknown
    SENT = "sent"  # Zalo accepted it; zalo_message_id holds its id
    FAILED = "failed"  # Zalo refused it for good; error_code says why
    UNCERTAIN = "uncertain"  # outcome unknown and not provable; never resent automatically
    CANCELLED = "cancelled"  # withdrawn before it left (a cancelled campaign)


PENDING_ONLY = text(f"status = '{OutboxStatus.PENDING}'")
NOT_SENT = text(f"status <> '{OutboxStatus.SENT}'")


class OutboundMessage(Base):
    """A message we send through Zalo: written before sending, unique by key."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        # Rows by status: the sweep of sends a crash left open, and whether any send is under way.
        Index("ix_outbound_claim", "status", "priority", "id"),
        # The sender claims due rows lane by lane, longest due first, walking this index. Only
        # pending rows are in it, so it stays small however many were sent. Ordered by id instead,
        # PostgreSQL chose to walk the primary key past every row already sent once its statistics
        # said most rows were pending (it cannot know the pending ones are the newest). Queries
        # match the index with the status written out, not bound.
        Index(
            "ix_outbound_due",
            "priority",
            "next_attempt_at",
            "id",
            postgresql_where=PENDING_ONLY,
            sqlite_where=PENDING_ONLY,
        ),
        # The few copies not sent (yet), by purpose: a firing's page counts them. Without it,
        # PostgreSQL with statistics from before a big firing read every copy ever sent.
        Index(
            "ix_outbound_open",
            "purpose",
            "id",
            postgresql_where=NOT_SENT,
            sqlite_where=NOT_SENT,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(
        String(255), unique=True
    )  # idempotency key, e.g. reply:<inbox id>:0
    channel: Mapped[str] = mapped_column(String(16))  # cs (1:1) or group
    recipient_id: Mapped[str] = mapped_column(String(64), index=True)  # user_id or group_id
    purpose: Mapped[str] = mapped_column(String(32))  # reply / handoff / alert / ...
    text: Mapped[str] = mapped_column(Text)
    message: Mapped[dict[str, Any]] = mapped_column(
        JSON
    )  # Zalo's "message" object; {} for plain text
    priority: Mapped[bool] = mapped_column(
        Boolean, default=True
    )  # replies jump the broadcast queue
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_attempts: Mapped[int] = mapped_column(
        Integer, default=0
    )  # reads of the chat after a crash
    zalo_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Alert(Base):
    """Something a commune admin must act on (e.g. the OA needs re-authorising)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
