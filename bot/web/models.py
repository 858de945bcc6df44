"""The desk's sign-in records: sessions, one-time Zalo links, and sign-in attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, UTCDateTime


class WebSession(Base):
    """A signed-in browser. Only the token's SHA-256 is kept, so the table opens no session."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(64))


class SigninLink(Base):
    """A one-time link sent to a staff member in Zalo ("đăng nhập"): ten minutes, one use."""

    __tablename__ = "signin_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SigninAttempt(Base):
    """One password sign-in tried: what the rate limit counts, per phone and per address."""

    __tablename__ = "signin_attempts"
    __table_args__ = (
        Index("ix_signin_attempts_phone", "phone", "at"),
        Index("ix_signin_attempts_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class ZaloLinkCode(Base):
    """A one-time code an admin reads to a staff member, who sends it to the OA to link their Zalo."""

    __tablename__ = "zalo_link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
