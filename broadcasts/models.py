"""Tables of the announcements side: households, campaigns, firings, approvals, deliveries, reach."""

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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.base import Base, UTCDateTime, folded_default, keep_folded
from bot.outbound.models import OutboundMessage


class HouseholdCategory(StrEnum):
    """The programme's household categories; private (never shown to other residents)."""

    POOR = "poor"  # hộ nghèo
    NEAR_POOR = "near_poor"  # hộ cận nghèo
    NEWLY_ESCAPED = "newly_escaped"  # hộ mới thoát nghèo
    OTHER = "other"  # hộ khác


class CampaignCategory(StrEnum):
    """What kind of announcement a campaign carries."""

    GENERAL = "general"  # thông báo chung
    MEETING = "meeting"  # họp
    POLICY = "policy"  # chính sách
    URGENT = "urgent"  # khẩn: thiên tai, cảnh báo lừa đảo; skips quiet hours


class Status(StrEnum):
    """Statuses of campaigns, firings and hamlet approvals (one vocabulary, shown in Vietnamese)."""

    DRAFT = "draft"  # bản nháp
    AWAITING = "awaiting_approval"  # chờ duyệt
    APPROVED = "approved"  # đã duyệt
    REJECTED = "rejected"  # từ chối
    SCHEDULED = "scheduled"  # đã hẹn giờ
    SENDING = "sending"  # đang gửi
    SENT = "sent"  # đã gửi
    CANCELLED = "cancelled"  # đã huỷ
    FAILED = "failed"  # gửi lỗi
    MISSED = "missed"  # bỏ lỡ: fell in downtime past its grace window


class Household(Base):
    """A household on the commune's list."""

    __tablename__ = "households"
    __table_args__ = (UniqueConstraint("commune_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    hamlet_id: Mapped[int] = mapped_column(ForeignKey("hamlets.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))  # the commune's own household code
    head_name: Mapped[str] = mapped_column(String(200))
    # code and head's name folded, for the desk's search (kept by keep_folded below)
    search_key: Mapped[str] = mapped_column(
        String(300), default=folded_default("code", "head_name"), server_default=""
    )
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(32))  # private
    category: Mapped[str] = mapped_column(String(16), default=HouseholdCategory.OTHER)  # private
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


keep_folded(Household, "search_key", "code", "head_name")


class HouseholdMember(Base):
    """A Zalo follower who belongs to (or speaks for) a household."""

    __tablename__ = "household_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), index=True
    )
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), unique=True
    )


class Campaign(Base):
    """An official's announcement: template, variables, targets, channels and timing."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("communes.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(100))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON)
    category: Mapped[str] = mapped_column(String(16), default=CampaignCategory.GENERAL)
    hamlet_ids: Mapped[list[int]] = mapped_column(
        JSON
    )  # the targeted hamlets (all, or chosen ones)
    household_categories: Mapped[list[str]] = mapped_column(JSON)  # empty: everyone; else 1:1 only
    channels: Mapped[list[str]] = mapped_column(JSON)  # "group", "resident"
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first (or only) firing
    recurrence: Mapped[str | None] = mapped_column(String(100))  # preset or cron, Asia/Ho_Chi_Minh
    ends_on: Mapped[date | None] = mapped_column(Date)
    # The due time lives in the row; the scheduler only ticks.
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    skip_approval: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # urgent, by a commune official only
    status: Mapped[str] = mapped_column(String(24), default=Status.DRAFT)
    author_staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Broadcast(Base):
    """One firing of a campaign: what goes out at one time, with its verification code."""

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("campaign_id", "fire_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    fire_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    approval_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    code: Mapped[str] = mapped_column(String(6), unique=True)  # mã xác thực
    status: Mapped[str] = mapped_column(String(24), default=Status.AWAITING)
    test_only: Mapped[bool] = mapped_column(Boolean, default=False)  # "gửi thử": to the author only
    deadline_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    fanned_out: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # every delivery row is written
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HamletApproval(Base):
    """A hamlet's yes or no to one firing, asked of its head (or a commune admin)."""

    __tablename__ = "hamlet_approvals"
    __table_args__ = (UniqueConstraint("broadcast_id", "hamlet_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    hamlet_id: Mapped[int] = mapped_column(ForeignKey("hamlets.id"))
    approver_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=Status.AWAITING)
    text: Mapped[str] = mapped_column(Text)  # the rendered announcement the approver saw
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When every copy for this hamlet was written: a hamlet approved after its firing started
    # sending (a post sent "now") has none yet, and the next tick writes its copies.
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who got no 1:1 copy and why, counted as the copies were written (broadcasts.reach_gaps).
    reach_gaps: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))


class Delivery(Base):
    """One outbound copy of a firing: to a hamlet group or to one resident; unique per target."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "kind", "target_id"),
        Index("ix_deliveries_hamlet", "broadcast_id", "hamlet_id"),
        Index("ix_deliveries_resident", "broadcast_id", "resident_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    hamlet_id: Mapped[int] = mapped_column(ForeignKey("hamlets.id"))
    kind: Mapped[str] = mapped_column(String(16))  # group / resident
    target_id: Mapped[str] = mapped_column(String(64))  # group_id or the resident's Zalo user id
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    outbound_id: Mapped[int] = mapped_column(ForeignKey("outbound_messages.id"), unique=True)
    outbound: Mapped[OutboundMessage] = relationship()
    link_token: Mapped[str] = mapped_column(String(16), unique=True)  # the tracked short link
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Acknowledgement(Base):
    """Evidence that a household got a firing: a group reply, a link opened, or the head's record."""

    __tablename__ = "acknowledgements"
    __table_args__ = (Index("ix_ack_broadcast", "broadcast_id", "hamlet_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    hamlet_id: Mapped[int] = mapped_column(ForeignKey("hamlets.id"))
    kind: Mapped[str] = mapped_column(String(24))  # group_reply / link_open / offline
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE")
    )
    method: Mapped[str | None] = mapped_column(
        String(32)
    )  # offline: meeting / in_person / loudspeaker
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupMember(Base):
    """Who is in one of the OA's groups, as the group events tell it."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "zalo_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[str] = mapped_column(String(64), index=True)
    zalo_user_id: Mapped[str] = mapped_column(String(64))
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None while a member
