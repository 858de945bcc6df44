"""Tables of the residents' side: places, people, inbox, outbox, tokens, FAQ."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, UTCDateTime


class StaffRole(StrEnum):
    """What a staff member does for the commune."""

    HAMLET_HEAD = "hamlet_head"  # trưởng ấp / thôn / bản: approves and helps their own hamlet
    DIGITAL_TEAM = "digital_team"  # tổ công nghệ số cộng đồng: helps residents, takes handoffs
    OFFICIAL = "official"  # cán bộ xã: writes announcements
    ADMIN = "admin"  # quản trị xã: receives system alerts, approves when no head can


class InboxStatus(StrEnum):
    """Where an accepted webhook event is in its processing."""

    PENDING = "pending"  # stored and acknowledged, not yet handled
    DONE = "done"  # handled; its effects are committed
    FAILED = "failed"  # handling raised too often; kept for a person to look at


class OutboxStatus(StrEnum):
    """Where an outbound message is on its way to Zalo."""

    PENDING = "pending"  # written, not yet tried (or waiting for a retry)
    SENDING = "sending"  # a send was started; a crash here leaves the outcome unknown
    SENT = "sent"  # Zalo accepted it; zalo_message_id holds its id
    FAILED = "failed"  # Zalo refused it for good; error_code says why
    UNCERTAIN = "uncertain"  # outcome unknown and not provable; never resent automatically
    CANCELLED = "cancelled"  # withdrawn before it left (a cancelled campaign)


class ConversationMode(StrEnum):
    """Who answers a resident."""

    BOT = "bot"  # the bot answers
    HUMAN = "human"  # a person took over; the bot keeps quiet until released


class Commune(Base):
    """A commune (xã / phường / đặc khu) served by the OA."""

    __tablename__ = "communes"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    hamlet_word: Mapped[str] = mapped_column(String(32), default="ấp")
    group_id: Mapped[str | None] = mapped_column(
        String(64)
    )  # the commune's Zalo group (heads, officials)
    group_link: Mapped[str | None] = mapped_column(String(300))  # its invite link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Hamlet(Base):
    """A hamlet (ấp / thôn / bản / tổ dân phố) of a commune."""

    __tablename__ = "hamlets"
    __table_args__ = (UniqueConstraint("commune_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(16), default="vi")
    group_id: Mapped[str | None] = mapped_column(String(64))  # the hamlet's OA-owned Zalo group
    group_link: Mapped[str | None] = mapped_column(
        String(300)
    )  # its invite link (printed as a QR code)


class Staff(Base):
    """A person who works for the commune and talks to the OA with their own Zalo account."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("commune_id", "zalo_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlets.id"), index=True)
    zalo_user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # for taking turns


class Resident(Base):
    """A Zalo user who follows or wrote to the OA (staff included, as Zalo users)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    zalo_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id_by_app: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("communes.id"), index=True)
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlets.id"), index=True)
    is_follower: Mapped[bool] = mapped_column(Boolean, default=False)
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_interaction_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opted_out: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # "ngừng nhận": no 1:1 announcements
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


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


PENDING_ONLY = text(f"status = '{OutboxStatus.PENDING}'")


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


class ZaloToken(Base):
    """The OA's current token pair; a refresh token works once, so this row is the truth."""

    __tablename__ = "zalo_tokens"

    oa_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OAuthState(Base):
    """A pending OA permission request: the PKCE verifier waiting for Zalo's callback."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Alert(Base):
    """Something a commune admin must act on (e.g. the OA needs re-authorising)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


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
