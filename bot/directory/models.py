"""Tables of directory."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime, folded_default, keep_folded


class StaffRole(StrEnum):
    """What a staff member does for the commune."""

    HAMLET_HEAD = "hamlet_head"  # trưởng ấp / thôn / bản: approves and helps their own hamlet
    DIGITAL_TEAM = "digital_team"  # tổ công nghệ số cộng đồng: helps residents, takes handoffs
    OFFICIAL = "official"  # cán bộ xã: writes announcements
    ADMIN = "admin"  # quản trị xã: receives system alerts, approves when no head can
    AUDITOR = "auditor"  # người kiểm tra: reads everything on the desk, changes nothing


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
    zalo_user_id: Mapped[str | None] = mapped_column(
        String(64), index=True
    )  # None: not on Zalo yet
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_handoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # for taking turns
    # The desk's sign-in: a phone (0xxxxxxxxx) names the account; the password is optional, for
    # office computers (heads sign in through a one-time link sent in Zalo).
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))


class Resident(Base):
    """A Zalo user who follows or wrote to the OA (staff included, as Zalo users)."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    zalo_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id_by_app: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    # display_name folded, for the desk's search (kept by keep_folded below)
    search_name: Mapped[str] = mapped_column(
        String(200), default=folded_default("display_name"), server_default=""
    )
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


keep_folded(Resident, "search_name", "display_name")


class AuditEntry(Base):
    """Every status change and every act on the desk: who, when, from what to what."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the system
    entity: Mapped[str] = mapped_column(
        String(24)
    )  # campaign / broadcast / approval / staff / signin
    entity_id: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)  # e.g. urgent approval skipped
